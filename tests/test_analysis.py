"""Headless analysis: edits, sweeps, magnitudes, PCA, flows, the reference image."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from liaviz import analysis as A
from liaviz import io
from liaviz.checkpoint import CheckpointError
from liaviz.errors import UserError

from ._explore_helpers import clip, portrait, tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def image():
    return portrait()


def _decode(model, state, z):
    with torch.inference_mode():
        return io.to_uint8(model.decode(state, z))


def test_edit_is_linear_manipulation(model, image):
    state = A.encode(model, image)
    m = model.config.motion_dim
    e = np.zeros((3, m), np.float32)
    e[1, 2] = 1.5
    e[2] = np.linspace(-1, 1, m)
    got = A.edit_images(model, image, e)
    q = model.directions().detach()
    with torch.inference_mode():
        base = model.self_latent(state)
        z = base + torch.from_numpy(e) @ q.T
    np.testing.assert_array_equal(got, _decode(model, state, z))
    # e = 0 is the reconstruction, and any nonzero edit changes the image
    np.testing.assert_array_equal(got[0], _decode(model, state, base)[0])
    assert np.abs(got[1].astype(int) - got[0]).mean() > 0.5


def test_sweep_images_batches_agree_and_zero_column_is_reconstruction(model, image):
    values = [-2.0, 0.0, 2.0]
    one = A.sweep_images(model, image, [0, 3], values, batch_size=1)
    many = A.sweep_images(model, image, [0, 3], values, batch_size=4)
    assert one.shape == (2, 3, 32, 32, 3) and one.dtype == np.uint8
    np.testing.assert_allclose(one.astype(int), many.astype(int), atol=1)
    recon = A.edit_image(model, image, np.zeros(model.config.motion_dim))
    np.testing.assert_array_equal(one[0, 1], recon)
    np.testing.assert_array_equal(one[1, 1], recon)
    assert not np.array_equal(one[0, 0], one[0, 2])
    assert not np.array_equal(one[0, 2], one[1, 2])
    for row, direction in enumerate([0, 3]):  # every cell is its own edit, in its own place
        for col, value in enumerate(values):
            e = np.zeros(model.config.motion_dim)
            e[direction] = value
            np.testing.assert_array_equal(one[row, col], A.edit_image(model, image, e))


def test_sweep_grid_figure_and_atomic_save(model, image, tmp_path):
    fig = A.sweep_grid(model, image, [1, 4], [-1, 0, 1], names=list("abcdef"))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "e"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-1", "0", "+1"]
    out = A.save_figure(fig, tmp_path / "grid.png")
    assert Image.open(out).format == "PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]  # no temp files left


def test_bad_inputs_are_user_errors(model, image):
    with pytest.raises(UserError, match="direction index 6 out of range"):
        A.sweep_images(model, image, [6])
    with pytest.raises(UserError, match="edits must be"):
        A.edit_images(model, image, np.zeros(5))
    with pytest.raises(UserError, match="uint8"):
        A.encode(model, np.zeros((8, 8), np.float32))
    with pytest.raises(UserError, match="names"):
        A.direction_names(6, ["a"])


def test_frame_magnitudes_match_the_motion_encoder(model, tmp_path):
    frames = clip(6, 40)
    alpha, kept = A.frame_magnitudes(model, frames, batch_size=4, keep_frames=True)
    prepared = np.stack([io.prepare(f, 32) for f in frames])
    np.testing.assert_array_equal(kept, prepared)
    with torch.inference_mode():
        ref = model.encode_motion(io.to_tensor(prepared)).numpy()
    np.testing.assert_allclose(alpha, ref, atol=1e-5)
    path = tmp_path / "clip.gif"
    with io.VideoWriter(path, fps=10) as w:
        w.write_many(frames)
    assert A.frame_magnitudes(model, path).shape == (6, model.config.motion_dim)


def test_video_magnitudes_bookkeeping(model):
    mags = A.video_magnitudes(
        model, {"a": clip(7), "b": clip(5, seed=3)}, stride=2, max_frames=3, keep_frames=True
    )
    assert mags.names == ["a", "b"]
    assert mags.video.tolist() == [0, 0, 0, 1, 1, 1]
    assert mags.frame.tolist() == [0, 2, 4, 0, 2, 4]
    assert mags.frames.shape == (6, 32, 32, 3)
    np.testing.assert_allclose(mags.time, [0, 0.5, 1, 0, 0.5, 1])
    np.testing.assert_array_equal(mags.of("b"), mags.alpha[3:])
    single = A.frame_magnitudes(model, clip(7)[::2][:3])
    np.testing.assert_allclose(mags.of("a"), single, atol=1e-5)


def test_magnitudes_over_a_dataset_split(model, tmp_path):
    split = tmp_path / "test"
    (split / "b_frames").mkdir(parents=True)
    for i, frame in enumerate(clip(3)):
        Image.fromarray(frame).save(split / "b_frames" / f"{i:04d}.png")
    with io.VideoWriter(split / "a.gif", fps=10) as w:
        w.write_many(clip(4, seed=2))
    videos = A.split_videos(split)
    assert list(videos) == ["a", "b_frames"]
    mags = A.video_magnitudes(model, videos)
    assert mags.names == ["a", "b_frames"] and len(mags) == 7
    assert list(A.split_videos(split, limit=1)) == ["a"]


def test_variance_order():
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=(200, 4)) * np.array([0.1, 3.0, 1.0, 0.01])
    assert A.order_by_variance(alpha).tolist() == [1, 2, 0, 3]
    np.testing.assert_allclose(A.direction_variance(alpha), alpha.var(0))
    with pytest.raises(UserError, match="at least 2 frames"):
        A.order_by_variance(alpha[:1])


def test_pca_maps_to_the_direction_basis_and_back():
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(3, 6))
    alpha = rng.normal(size=(300, 3)) * [3.0, 1.0, 0.3] @ mix + 0.5
    res = A.fit_pca(alpha)
    assert res.n_components == 6
    assert np.all(np.diff(res.explained) <= 1e-12) and res.explained.sum() == pytest.approx(1)
    np.testing.assert_allclose(res.scores, (alpha - alpha.mean(0)) @ res.components.T, atol=1e-8)
    # one standard deviation along PC1 is an edit of that length, along the PC1 axis
    e = A.pcs_to_directions(res, [1.0])
    assert np.linalg.norm(e) == pytest.approx(res.std[0], rel=1e-5)
    np.testing.assert_allclose(abs(e @ res.components[0]) / np.linalg.norm(e), 1.0, rtol=1e-5)
    c = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(
        A.directions_to_pcs(res, A.pcs_to_directions(res, c))[:3], c, atol=1e-4
    )
    assert A.pcs_to_directions(res, np.zeros((4, 2))).shape == (4, 6)
    with pytest.raises(UserError, match="n_components"):
        A.fit_pca(alpha, n_components=7)
    fig = A.pca_figure(res, color="time")
    assert "PC1" in fig.axes[0].get_xlabel()


def test_flow_colours():
    r = 8
    grid = A.identity_grid(r)[0].numpy()
    assert (A.flow_to_color(grid) == 255).all()  # no motion is white
    right = grid + np.array([0.3, 0.0], np.float32)
    down = grid + np.array([0.0, 0.3], np.float32)
    np.testing.assert_array_equal(A.flow_to_color(right)[0, 0], [255, 0, 0])  # hue 0 = red
    assert not np.array_equal(A.flow_to_color(down)[0, 0], A.flow_to_color(-down + 2 * grid)[0, 0])
    half = A.flow_to_color(grid + np.array([0.15, 0.0], np.float32), max_norm=0.3)[0, 0]
    assert 100 < half[1] < 160 and half[0] == 255  # half the length: half saturated
    wheel = A.color_wheel(33)
    assert (wheel[16, 16] == 255).all() and (wheel[0, 0] == 255).all()
    with pytest.raises(UserError, match="flow field"):
        A.flow_to_color(np.zeros((4, 5, 2)))


def test_reference_arrays_decode_the_paper_codes(model, image):
    arrays = A.reference_arrays(model, image)
    state = A.encode(model, image)
    with torch.inference_mode():
        np.testing.assert_array_equal(arrays.reference, _decode(model, state, state.latent)[0])
        recon = _decode(model, state, model.self_latent(state))[0]
    np.testing.assert_array_equal(arrays.reconstruction, recon)
    np.testing.assert_array_equal(arrays.source, io.prepare(image, 32))
    assert arrays.resolutions == [8, 16, 32]
    assert [f.shape for f in arrays.flows["reference"]] == [(8, 8, 3), (16, 16, 3), (32, 32, 3)]
    assert [m.shape for m in arrays.masks["reconstruction"]][-1] == (32, 32, 3)
    fig = A.reference_figure(arrays, "reconstruction")
    assert "reconstruction" in fig.texts[0].get_text()


def test_motion_from_frame_is_absolute_transfer(model, image):
    frame = clip(3)[2]
    e = A.motion_from_frame(model, image, frame)
    state = A.encode(model, image)
    alpha_f = A.frame_magnitudes(model, frame[None])
    np.testing.assert_allclose(e, alpha_f[0] - state.alpha[0].numpy(), atol=1e-6)
    with torch.inference_mode():
        absolute = _decode(model, state, model.absolute_latent(state, torch.from_numpy(alpha_f)))
    got = A.edit_image(model, image, e)
    assert np.abs(got.astype(int) - absolute[0]).max() <= 1


def test_write_sweep_gif(model, image, tmp_path):
    out = A.write_sweep(model, image, 2, tmp_path / "s.gif", values=[0, 1, 2, 1], fps=8)
    frames = io.read_video(out)
    assert frames.shape == (4, 32, 32, 3)
    assert not np.array_equal(frames[0], frames[2])
    with pytest.raises(UserError, match="cannot write video"):
        A.write_sweep(model, image, 2, tmp_path / "s.png")


def test_random_edit_is_clipped_and_seeded():
    a = A.random_edit(50, scale=5.0, limit=3.0, rng=0)
    assert a.shape == (50,) and np.abs(a).max() <= 3.0
    np.testing.assert_array_equal(a, A.random_edit(50, scale=5.0, limit=3.0, rng=0))


def test_demo_model_stand_in_warns(tmp_path):
    with pytest.warns(UserWarning, match="RANDOM weights"):
        model, message = A.load_demo_model(default="no-such-bundled-model")
    assert "RANDOM" in message and model.config.size == 64 and not model.training
    tiny = tiny_model()
    tiny.save(tmp_path / "tiny.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded, message = A.load_demo_model(tmp_path / "tiny.safetensors")
    assert message is None and loaded.config == tiny.config
    with pytest.raises(CheckpointError):
        A.load_demo_model(tmp_path / "missing.pt")


def test_sample_media():
    face = A.sample_portrait()
    assert face.shape == (256, 256, 3) and face.dtype == np.uint8
    # the Mona Lisa ships inside the package, with its provenance
    assets = Path(A.__file__).parent / "assets"
    assert A.SAMPLE_PORTRAIT.parent == assets
    assert "public domain" in (assets / "README.md").read_text()
    frames = A.sample_driving(32, n_frames=3)
    assert frames.shape == (3, 32, 32, 3)
    assert not np.array_equal(frames[0], frames[2])
