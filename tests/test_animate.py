"""Streaming motion transfer: the paper's formulas, start frames, edits, streaming, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from liaviz import LIA, LIAConfig, io
from liaviz.errors import InputError
from liaviz.pipelines.animate import AnimateError, animate, animate_batches, best_start_frame
from liaviz.runtime.driving import clip_magnitudes

from ._media import moving_frames, write_mp4, write_png
from .conftest import DATA, needs_shared

# one thread per test: tiny models on 2 threads spin-wait on each other on a busy 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def frames() -> np.ndarray:
    return moving_frames(7, 64, seed=1)


@pytest.fixture
def source() -> np.ndarray:
    return moving_frames(1, 64, seed=2)[0]


def _reference(model, source, frames, mode, start_index=0):
    """The paper's codes computed directly with the model API, batch by batch of 1."""
    with torch.inference_mode():
        state = model.encode_source(io.to_tensor(source))
        x = io.to_tensor(frames)
        alpha = torch.cat([model.encode_motion(x[i : i + 1]) for i in range(len(x))])
        if mode == "absolute":
            z = model.absolute_latent(state, alpha)
        else:
            z = model.relative_latent(state, alpha, alpha[start_index])
        return io.to_uint8(torch.cat([model.decode(state, z[i : i + 1]) for i in range(len(z))]))


def _close(a: np.ndarray, b: np.ndarray, levels: int = 1) -> None:
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= levels, f"max diff {diff.max()} levels"


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_output_follows_eq_11_and_12(tiny_model, source, frames, mode):
    out = np.stack(list(animate(tiny_model, source, frames, mode=mode, batch_size=3)))
    assert out.shape == (7, 64, 64, 3) and out.dtype == np.uint8
    _close(out, _reference(tiny_model, source, frames, mode))


def test_modes_differ(tiny_model, source, frames):
    rel = np.stack(list(animate(tiny_model, source, frames, mode="relative")))
    ab = np.stack(list(animate(tiny_model, source, frames, mode="absolute")))
    assert np.abs(rel.astype(int) - ab).mean() > 1


def test_source_as_own_driving_frame_reconstructs_it(tiny_model, source, frames):
    driving = np.concatenate([source[None], frames[:2]])
    first = next(animate(tiny_model, source, driving, mode="relative"))
    with torch.inference_mode():
        state = tiny_model.encode_source(io.to_tensor(source))
        recon = io.to_uint8(tiny_model.decode(state, tiny_model.self_latent(state)))[0]
    _close(first, recon)


def test_batch_size_does_not_change_the_result(tiny_model, source, frames):
    a = np.stack(list(animate(tiny_model, source, frames, batch_size=1)))
    b = np.stack(list(animate(tiny_model, source, frames, batch_size=5)))
    _close(a, b)


def test_start_index_and_best(tiny_model, source, frames):
    out = np.stack(list(animate(tiny_model, source, frames, start=4, batch_size=3)))
    _close(out, _reference(tiny_model, source, frames, "relative", start_index=4))
    # Put the source itself in the middle of the video: its motion code equals the source's,
    # so "best" must pick that frame, and the output there is the source's reconstruction.
    driving = np.concatenate([frames[:3], source[None], frames[3:]])
    alphas = clip_magnitudes(tiny_model, driving)
    with torch.inference_mode():
        state = tiny_model.encode_source(io.to_tensor(source))
    assert best_start_frame(state.alpha, alphas) == 3
    best = np.stack(list(animate(tiny_model, source, driving, start="best", batch_size=2)))
    assert best.shape == (8, 64, 64, 3)  # every frame, in order
    _close(best, _reference(tiny_model, source, driving, "relative", start_index=3))


def test_edit_moves_the_source_before_animating(tiny_model, source, frames):
    e = torch.zeros(tiny_model.config.motion_dim)
    e[1] = 2.5
    first = next(animate(tiny_model, source, frames, edit=e))
    with torch.inference_mode():
        state = tiny_model.encode_source(io.to_tensor(source))
        edited = io.to_uint8(tiny_model.decode(state, tiny_model.edit_latent(state, e[None])))[0]
    _close(first, edited)  # frame 0 of a relative animation is the edited source itself
    same = next(animate(tiny_model, source, frames, edit={2: 2.5}))  # d2 is index 1: 1-based
    _close(same, first, 0)
    as_text = next(animate(tiny_model, source, frames, edit="2=2.5"))
    _close(as_text, first, 0)
    plain = next(animate(tiny_model, source, frames))
    assert np.abs(plain.astype(int) - first).mean() > 0.5
    zero = next(animate(tiny_model, source, frames, edit=[0.0] * tiny_model.config.motion_dim))
    _close(zero, plain, 0)


def test_stream_reads_only_one_batch_ahead(tiny_model, source, frames):
    pulled = []

    def driving():
        for i, f in enumerate(np.concatenate([frames, frames])):
            pulled.append(i)
            yield f

    stream = animate(tiny_model, source, driving(), batch_size=3)
    next(stream)
    assert len(pulled) == 3  # the first frame left after one batch was read
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    rest = list(stream)
    assert len(rest) == 13 and len(pulled) == 14


def test_inputs_as_paths_and_tensors(tiny_model, tmp_path, source, frames):
    video = write_mp4(tmp_path / "d.mp4", frames)
    a = np.stack(list(animate(tiny_model, write_png(tmp_path / "s.png", source), video)))
    b = np.stack(list(animate(tiny_model, io.to_tensor(source), list(io.iter_video(video)))))
    assert a.shape == (7, 64, 64, 3)
    _close(a, b, 0)
    batches = list(animate_batches(tiny_model, source, io.to_tensor(frames), batch_size=4))
    assert [b.first for b in batches] == [0, 4] and batches[0].driving.shape == (4, 64, 64, 3)


def test_bad_arguments_fail_before_any_work(tiny_model, source, frames):
    m = tiny_model
    with pytest.raises(AnimateError, match="only one frame"):
        animate(m, source, frames[:1], mode="relative")
    assert len(list(animate(m, source, frames[:1], mode="absolute"))) == 1
    with pytest.raises(AnimateError, match="only one frame"):
        list(animate(m, source, iter(frames[:1])))  # length unknown up front
    with pytest.raises(AnimateError, match="outside"):
        animate(m, source, frames, start=7)
    with pytest.raises(AnimateError, match="relative mode only"):
        animate(m, source, frames, mode="absolute", start="best")
    with pytest.raises(AnimateError, match="one-shot"):
        animate(m, source, iter(frames), start="best")
    with pytest.raises(AnimateError, match="mode"):
        animate(m, source, frames, mode="sideways")
    with pytest.raises(InputError, match="6 values"):
        animate(m, source, frames, edit=[1.0, 2.0])
    with pytest.raises(InputError, match="direction 9"):
        animate(m, source, frames, edit={9: 1.0})
    with pytest.raises(InputError, match="count from 1"):
        animate(m, source, frames, edit={0: 1.0})
    with pytest.raises(AnimateError, match="batch size"):
        animate(m, source, frames, batch_size=0)
    with pytest.raises(InputError, match="uint8"):
        animate(m, source.astype(np.float32), frames)
    with pytest.raises(io.MediaError, match="no frames"):
        animate(m, source, np.zeros((0, 64, 64, 3), np.uint8))


# ---- the real sample media, a 256 model with the official architecture ------------------------


@pytest.fixture(scope="module")
def official_random() -> LIA:
    torch.manual_seed(0)
    return LIA(LIAConfig()).eval()  # size 256, latent 512, M = 20: the official layout


@needs_shared(DATA / "driving1.mp4")
@needs_shared(DATA / "mona_lisa.png")
@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_real_media_256_keeps_frame_count_and_fps(official_random, tmp_path, mode):
    """The real pipeline at 256 (float32: the suite must fit CPUs without bf16 units); frame
    count, frame rate and size come through."""
    driving_path = DATA / "driving1.mp4"
    info = io.video_info(driving_path)
    clip = tmp_path / "first8.mp4"
    with io.VideoWriter(clip, info.rate) as w:
        w.write_many(io.read_video(driving_path, max_frames=8))
    out = tmp_path / f"{mode}.mp4"
    with io.VideoWriter(out, io.video_info(clip).rate) as w:
        w.write_many(animate(official_random, DATA / "mona_lisa.png", clip, mode=mode))
    got = io.video_info(out)
    assert got.n_frames == 8 and got.fps == info.fps == 10.0
    assert (got.width, got.height) == (256, 256)


@needs_shared(DATA / "driving1.mp4")
@needs_shared(DATA / "mona_lisa.png")
def test_real_media_256_self_reconstruction(official_random):
    source = io.read_image(DATA / "mona_lisa.png")
    driving = np.stack([source, io.read_video(DATA / "driving1.mp4", max_frames=1)[0]])
    first = next(animate(official_random, source, driving, mode="relative"))
    with torch.inference_mode():
        state = official_random.encode_source(io.to_tensor(io.prepare(source, 256)))
        recon = io.to_uint8(official_random.decode(state, official_random.self_latent(state)))[0]
    _close(first, recon)
