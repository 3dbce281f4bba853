"""Headless analysis (``liaviz.analysis``): edits, sweeps, magnitudes, ranges, PCA, flows, the
reference image and their figures. Expected values come from the model's own pieces (encoder,
directions, decoder) or numpy, not from the function under test."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from liaviz import io
from liaviz.analysis import display, edits, figures, flows, magnitudes, pca, ranges
from liaviz.errors import UserError
from liaviz.nn.synthesis import identity_grid
from liaviz.runtime.source import encode_source

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
    state = encode_source(model, image)
    m = model.config.motion_dim
    e = np.zeros((3, m), np.float32)
    e[1, 2] = 1.5
    e[2] = np.linspace(-1, 1, m)
    got = edits.edit_images(model, image, e)
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
    one = edits.sweep_images(model, image, [0, 3], values, batch_size=1)
    many = edits.sweep_images(model, image, [0, 3], values, batch_size=4)
    assert one.shape == (2, 3, 32, 32, 3) and one.dtype == np.uint8
    np.testing.assert_allclose(one.astype(int), many.astype(int), atol=1)
    recon = edits.edit_image(model, image, np.zeros(model.config.motion_dim))
    np.testing.assert_array_equal(one[0, 1], recon)
    np.testing.assert_array_equal(one[1, 1], recon)
    assert not np.array_equal(one[0, 0], one[0, 2])
    assert not np.array_equal(one[0, 2], one[1, 2])
    for row, direction in enumerate([0, 3]):  # every cell is its own edit, in its own place
        for col, value in enumerate(values):
            e = np.zeros(model.config.motion_dim)
            e[direction] = value
            np.testing.assert_array_equal(one[row, col], edits.edit_image(model, image, e))


def test_sweep_grid_figure_and_atomic_save(model, image, tmp_path):
    fig = figures.sweep_grid(model, image, [1, 4], [-1, 0, 1], names=list("abcdef"))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "e"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-1", "0", "+1"]
    out = figures.save_figure(fig, tmp_path / "grid.png")
    assert Image.open(out).format == "PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]  # no temp files left


def test_bad_inputs_are_user_errors(model, image):
    with pytest.raises(UserError, match="direction index 6 out of range"):
        edits.sweep_images(model, image, [6])
    with pytest.raises(UserError, match="edit needs 6 values"):
        edits.edit_images(model, image, np.zeros(5))
    with pytest.raises(UserError, match="uint8"):
        encode_source(model, np.zeros((8, 8), np.float32))
    with pytest.raises(UserError, match="names"):
        edits.direction_labels(6, ["a"])


def test_frame_magnitudes_match_the_motion_encoder(model, tmp_path):
    frames = clip(6, 40)
    alpha, kept = magnitudes.frame_magnitudes(model, frames, batch_size=4, keep_frames=True)
    prepared = np.stack([io.prepare(f, 32) for f in frames])
    np.testing.assert_array_equal(kept, prepared)
    with torch.inference_mode():
        ref = model.encode_motion(io.to_tensor(prepared)).numpy()
    np.testing.assert_allclose(alpha, ref, atol=1e-5)
    path = tmp_path / "clip.gif"
    with io.VideoWriter(path, fps=10) as w:
        w.write_many(frames)
    assert magnitudes.frame_magnitudes(model, path).shape == (6, model.config.motion_dim)


def test_video_magnitudes_bookkeeping(model):
    mags = magnitudes.video_magnitudes(
        model, {"a": clip(7), "b": clip(5, seed=3)}, stride=2, max_frames=3, keep_frames=True
    )
    assert mags.names == ["a", "b"]
    assert mags.video.tolist() == [0, 0, 0, 1, 1, 1]
    assert mags.frame.tolist() == [0, 2, 4, 0, 2, 4]
    assert mags.frames.shape == (6, 32, 32, 3)
    np.testing.assert_allclose(mags.time, [0, 0.5, 1, 0, 0.5, 1])
    np.testing.assert_array_equal(mags.of("b"), mags.alpha[3:])
    single = magnitudes.frame_magnitudes(model, clip(7)[::2][:3])
    np.testing.assert_allclose(mags.of("a"), single, atol=1e-5)


def test_magnitudes_over_a_dataset_split(model, tmp_path):
    split = tmp_path / "test"
    (split / "b_frames").mkdir(parents=True)
    for i, frame in enumerate(clip(3)):
        Image.fromarray(frame).save(split / "b_frames" / f"{i:04d}.png")
    with io.VideoWriter(split / "a.gif", fps=10) as w:
        w.write_many(clip(4, seed=2))
    videos = magnitudes.split_videos(split)
    assert list(videos) == ["a", "b_frames"]
    mags = magnitudes.video_magnitudes(model, videos)
    assert mags.names == ["a", "b_frames"] and len(mags) == 7
    assert list(magnitudes.split_videos(split, limit=1)) == ["a"]


def test_variance_order():
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=(200, 4)) * np.array([0.1, 3.0, 1.0, 0.01])
    assert magnitudes.order_by_variance(alpha).tolist() == [1, 2, 0, 3]
    np.testing.assert_allclose(magnitudes.direction_variance(alpha), alpha.var(0))
    with pytest.raises(UserError, match="at least 2 frames"):
        magnitudes.order_by_variance(alpha[:1])


def test_pca_maps_to_the_direction_basis_and_back():
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(3, 6))
    alpha = rng.normal(size=(300, 3)) * [3.0, 1.0, 0.3] @ mix + 0.5
    res = pca.fit_pca(alpha)
    assert res.n_components == 6
    assert np.all(np.diff(res.explained) <= 1e-12) and res.explained.sum() == pytest.approx(1)
    np.testing.assert_allclose(res.scores, (alpha - alpha.mean(0)) @ res.components.T, atol=1e-8)
    # one standard deviation along PC1 is an edit of that length, along the PC1 axis
    e = pca.pcs_to_directions(res, [1.0])
    assert np.linalg.norm(e) == pytest.approx(res.std[0], rel=1e-5)
    np.testing.assert_allclose(abs(e @ res.components[0]) / np.linalg.norm(e), 1.0, rtol=1e-5)
    c = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(
        pca.directions_to_pcs(res, pca.pcs_to_directions(res, c))[:3], c, atol=1e-4
    )
    assert pca.pcs_to_directions(res, np.zeros((4, 2))).shape == (4, 6)
    with pytest.raises(UserError, match="n_components"):
        pca.fit_pca(alpha, n_components=7)
    fig = figures.pca_figure(res, color="time")
    assert "PC1" in fig.axes[0].get_xlabel()


def test_flow_colours():
    r = 8
    grid = identity_grid(r)[0].numpy()
    assert (flows.flow_to_color(grid) == 255).all()  # no motion is white
    right = grid + np.array([0.3, 0.0], np.float32)
    down = grid + np.array([0.0, 0.3], np.float32)
    np.testing.assert_array_equal(flows.flow_to_color(right)[0, 0], [255, 0, 0])  # hue 0 = red
    assert not np.array_equal(
        flows.flow_to_color(down)[0, 0], flows.flow_to_color(-down + 2 * grid)[0, 0]
    )
    half = flows.flow_to_color(grid + np.array([0.15, 0.0], np.float32), max_norm=0.3)[0, 0]
    assert 100 < half[1] < 160 and half[0] == 255  # half the length: half saturated
    wheel = flows.color_wheel(33)
    assert (wheel[16, 16] == 255).all() and (wheel[0, 0] == 255).all()
    with pytest.raises(UserError, match="flow field"):
        flows.flow_to_color(np.zeros((4, 5, 2)))


def test_reference_arrays_decode_the_paper_codes(model, image):
    arrays = flows.reference_arrays(model, image)
    state = encode_source(model, image)
    with torch.inference_mode():
        np.testing.assert_array_equal(arrays.reference, _decode(model, state, state.latent)[0])
        recon = _decode(model, state, model.self_latent(state))[0]
    np.testing.assert_array_equal(arrays.reconstruction, recon)
    np.testing.assert_array_equal(arrays.source, io.prepare(image, 32))
    assert arrays.resolutions == [8, 16, 32]
    assert [f.shape for f in arrays.flows["reference"]] == [(8, 8, 3), (16, 16, 3), (32, 32, 3)]
    assert [m.shape for m in arrays.masks["reconstruction"]][-1] == (32, 32, 3)
    fig = figures.reference_figure(arrays, "reconstruction")
    assert "reconstruction" in fig.texts[0].get_text()


def test_motion_from_frame_is_absolute_transfer(model, image):
    frame = clip(3)[2]
    e = edits.motion_from_frame(model, image, frame)
    state = encode_source(model, image)
    alpha_f = magnitudes.frame_magnitudes(model, frame[None])
    np.testing.assert_allclose(e, alpha_f[0] - state.alpha[0].numpy(), atol=1e-6)
    with torch.inference_mode():
        absolute = _decode(model, state, model.absolute_latent(state, torch.from_numpy(alpha_f)))
    got = edits.edit_image(model, image, e)
    assert np.abs(got.astype(int) - absolute[0]).max() <= 1


def test_write_sweep_gif(model, image, tmp_path):
    out = edits.write_sweep(model, image, 2, tmp_path / "s.gif", values=[0, 1, 2, 1], fps=8)
    frames = io.read_video(out)
    assert frames.shape == (4, 32, 32, 3)
    assert not np.array_equal(frames[0], frames[2])
    with pytest.raises(UserError, match="cannot write video"):
        edits.write_sweep(model, image, 2, tmp_path / "s.png")


def test_random_edit_is_clipped_and_seeded():
    a = edits.random_edit(50, scale=5.0, limit=3.0, rng=0)
    assert a.shape == (50,) and np.abs(a).max() <= 3.0
    np.testing.assert_array_equal(a, edits.random_edit(50, scale=5.0, limit=3.0, rng=0))


def test_an_edit_mapping_counts_directions_from_1(model, image):
    state = encode_source(model, image)
    q = model.directions().detach()
    with torch.inference_mode():
        z = model.self_latent(state) + 1.5 * q[:, 2]  # d3 is column 2
    np.testing.assert_array_equal(
        edits.edit_image(model, image, {3: 1.5}), _decode(model, state, z)[0]
    )
    with pytest.raises(UserError, match="directions count from 1"):
        edits.edit_image(model, image, {0: 1.0})


def test_loop_values_go_out_and_back_without_a_jump():
    v = edits.loop_values(2.0, steps=3)
    np.testing.assert_allclose(v, [0, 1, 2, 1, 0, -1, -2, -1])
    v = edits.loop_values(2.0, lo=-4.0, steps=3)
    np.testing.assert_allclose(v, [0, 1, 2, 1, 0, -2, -4, -2])


def test_slider_ranges_given_data_or_default():
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=(50, 3)) * [0.1, 1.0, 2.0]
    source = np.zeros(3)
    lo_hi, steps, kind = ranges.slider_ranges(3, alpha, source)
    need = 1.1 * np.maximum(3 * alpha.std(0), np.abs(alpha).max(0))
    assert kind == "data" and (lo_hi[:, 1] >= need).all() and (lo_hi[:, 0] == -lo_hi[:, 1]).all()
    assert len(steps) == 3 and all(0 < s < h for s, h in zip(steps, lo_hi[:, 1], strict=True))
    lo_hi, steps, kind = ranges.slider_ranges(3, None, source, (-1.0, 2.0), 0.5)
    assert kind == "given" and lo_hi.tolist() == [[-1.0, 2.0]] * 3 and steps == [0.5] * 3
    lo_hi, _, kind = ranges.slider_ranges(3, None, source)
    assert kind == "default" and lo_hi.tolist() == [list(ranges.DEFAULT_RANGE)] * 3
    with pytest.raises(UserError, match="0 strictly inside"):
        ranges.check_slider_options((0.5, 2.0), None)
    with pytest.raises(UserError, match="step must be positive"):
        ranges.check_slider_options(None, 0.0)


def test_importance_is_the_spread_else_the_encoder_gain(model):
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=(40, model.config.motion_dim))
    value, kind = magnitudes.importance(model, alpha)
    assert kind == "σ"
    np.testing.assert_allclose(value, alpha.std(0))
    value, kind = magnitudes.importance(model, None)
    # the head latent -> A is linear: its Jacobian (M, D) is its matrix
    jac = torch.autograd.functional.jacobian(model.enc.fc, torch.zeros(1, model.config.latent_dim))
    assert kind == "gain"
    np.testing.assert_allclose(value, jac[0, :, 0].norm(dim=1).numpy(), rtol=1e-5)


def test_upscale_enlarges_by_whole_factors_until_the_height_fits():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    big = display.upscale(img, 5)  # factor 3: 2 rows -> 6
    assert big.shape == (6, 9, 3)
    np.testing.assert_array_equal(big[::3, ::3], img)
    batch = np.stack([img, img + 1])
    assert display.upscale(batch, 4).shape == (2, 4, 6, 3)
    assert display.upscale(img, 2) is img
    png = display.png(img)
    np.testing.assert_array_equal(np.asarray(Image.open(BytesIO(png))), img)
    shown = np.asarray(Image.open(BytesIO(display.png(img, 6))))
    np.testing.assert_array_equal(shown, img.repeat(3, 0).repeat(3, 1))


def test_save_figure_needs_an_existing_folder(model, image, tmp_path):
    fig = figures.pca_figure(pca.fit_pca(np.random.default_rng(0).normal(size=(10, 3))))
    with pytest.raises(UserError, match="does not exist"):
        figures.save_figure(fig, tmp_path / "missing" / "f.png")
