"""The shared runtime layer, checked against the model API and hand-built values."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from liaviz.analysis.edits import parse_edit, parse_edit_text
from liaviz.errors import InputError
from liaviz.io import MediaError
from liaviz.progress import progress_bar
from liaviz.runtime.device import ENV_OVERRIDE, PrecisionWarning, frames_per_call, inference
from liaviz.runtime.driving import DrivingVideo, clip_magnitudes
from liaviz.runtime.source import encode_source, source_tensor

from ._media import moving_frames, write_png, write_png_folder

# one thread per test: tiny models on 2 threads spin-wait on each other on a busy 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


def _by_hand(images: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (N, 3, H, W) in [-1, 1], written out here on purpose."""
    a = images.reshape(-1, *images.shape[-3:]).astype(np.float64)
    return torch.tensor(a / 127.5 - 1.0, dtype=torch.float32).permute(0, 3, 1, 2)


# ---- progress and batch size ----------------------------------------------------------------


def test_a_disabled_progress_bar_passes_items_through_and_ignores_calls():
    bar = progress_bar(range(4), enabled=False, total=4, desc="x")
    assert list(bar) == [0, 1, 2, 3]
    with progress_bar(enabled=False) as quiet:
        quiet.update(3)
        quiet.set_postfix(clip="1/2")
    quiet.close()
    assert list(progress_bar(enabled=False)) == []


def test_an_enabled_progress_bar_is_tqdm_with_the_given_labels():
    from tqdm.auto import tqdm

    bar = progress_bar(enabled=True, total=7, desc="reading", unit="clip")
    try:
        assert isinstance(bar, tqdm)
        assert (bar.total, bar.desc, bar.unit) == (7, "reading", "clip")
        bar.update(2)
        assert bar.n == 2
    finally:
        bar.close()


@pytest.mark.parametrize(("size", "expected"), [(64, 16), (128, 16), (256, 4), (512, 1)])
def test_cpu_batch_size_keeps_about_256_ki_pixels(size, expected):
    module = torch.nn.Linear(1, 1)
    module.config = SimpleNamespace(size=size)
    assert frames_per_call(module) == expected


def test_accelerator_batch_size_is_16():
    module = torch.nn.Linear(1, 1, device="meta")
    module.config = SimpleNamespace(size=512)
    assert frames_per_call(module) == 16


# ---- precision ------------------------------------------------------------------------------


def test_inference_casts_to_bfloat16_only_when_the_device_computes_it(monkeypatch, tiny_model):
    x = torch.ones(2, 2)
    with inference(tiny_model, "float32"):
        assert torch.is_inference_mode_enabled()
        assert (x @ x).dtype == torch.float32
    monkeypatch.setenv(ENV_OVERRIDE, "1")
    with inference(tiny_model, "bfloat16"):
        assert (x @ x).dtype == torch.bfloat16
    with inference(tiny_model, None):  # auto: bf16 where native
        assert (x @ x).dtype == torch.bfloat16
    monkeypatch.setenv(ENV_OVERRIDE, "0")
    with pytest.warns(PrecisionWarning), inference(tiny_model, "bfloat16"):
        assert (x @ x).dtype == torch.float32
    assert not torch.is_inference_mode_enabled()


# ---- the source -----------------------------------------------------------------------------


def test_source_tensor_from_path_array_and_tensor(tiny_model, tmp_path):
    wide = moving_frames(1, 64, 80, seed=3)[0]  # 64 x 80: the centre crop keeps columns 8..71
    expected = _by_hand(wide[:, 8:72])
    assert torch.allclose(source_tensor(tiny_model, wide), expected, atol=1e-6)
    path = write_png(tmp_path / "s.png", wide)
    assert torch.allclose(source_tensor(tiny_model, path), expected, atol=1e-6)
    assert torch.equal(source_tensor(tiny_model, expected[0]), expected)
    assert source_tensor(tiny_model, wide, crop="pad").shape == (1, 3, 64, 64)


def test_source_tensor_refuses_what_is_not_one_image(tiny_model):
    image = moving_frames(1, 64)[0]
    with pytest.raises(InputError, match="uint8"):
        source_tensor(tiny_model, image.astype(np.float32))
    with pytest.raises(InputError, match=r"\(1, 3, 64, 64\)"):
        source_tensor(tiny_model, torch.zeros(2, 3, 64, 64))
    state = tiny_model.encode_source(_by_hand(image))
    with pytest.raises(InputError, match="SourceState"):
        source_tensor(tiny_model, state)
    # a uint8 tensor is an image in the wrong layout and range: refused, naming its dtype
    with pytest.raises(InputError, match=r"floats in \[-1, 1\].*uint8 \(1, 3, 64, 64\)"):
        source_tensor(tiny_model, torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    # float64 and half tensors are floats in [-1, 1]: taken, as the model's float32
    x = _by_hand(image)
    for dtype in (torch.float64, torch.float16):
        got = source_tensor(tiny_model, x.to(dtype))
        assert got.dtype == torch.float32 and torch.allclose(got, x, atol=1e-3)
    with pytest.raises(MediaError, match="no such file"):
        source_tensor(tiny_model, "missing.png")


def test_encode_source_matches_the_model_and_passes_a_state_through(tiny_model):
    image = moving_frames(1, 64, seed=4)[0]
    with torch.inference_mode():
        want = tiny_model.encode_source(_by_hand(image))
    got = encode_source(tiny_model, image, precision="float32")
    assert torch.allclose(got.alpha, want.alpha, atol=1e-6)
    assert torch.allclose(got.latent, want.latent, atol=1e-6)
    again = encode_source(tiny_model, got)
    assert torch.equal(again.alpha, got.alpha) and torch.equal(again.latent, got.latent)
    with torch.inference_mode():
        two = tiny_model.encode_source(_by_hand(moving_frames(2, 64)))
    with pytest.raises(InputError, match="batch of 2"):
        encode_source(tiny_model, two)


# ---- edits ----------------------------------------------------------------------------------


def test_edit_directions_are_one_based(tiny_model):
    m = tiny_model.config.motion_dim  # 6
    want = torch.tensor([0.0, 0.0, 1.5, 0.0, 0.0, -2.0])
    assert torch.equal(parse_edit(tiny_model, {3: 1.5, 6: -2}), want)
    assert torch.equal(parse_edit(tiny_model, "3=1.5, 6=-2"), want)
    assert torch.equal(parse_edit(tiny_model, [0, 0, 1.5, 0, 0, -2]), want)
    assert torch.equal(parse_edit(tiny_model, want.numpy()), want)
    assert torch.equal(parse_edit(tiny_model, want.double()[None]), want)
    assert parse_edit(tiny_model, None) is None
    assert torch.equal(parse_edit(tiny_model, {1: 1}), torch.eye(m)[0])
    assert torch.equal(parse_edit(tiny_model, {m: 1}), torch.eye(m)[m - 1])


@pytest.mark.parametrize("bad", [{0: 1.0}, {7: 1.0}, "0=1", "7=-1", {-1: 2.0}])
def test_direction_zero_or_past_m_says_directions_count_from_1(tiny_model, bad):
    with pytest.raises(InputError, match="count from 1") as err:
        parse_edit(tiny_model, bad)
    assert "\n" not in str(err.value) and "1-6" in str(err.value)


def test_bad_edits_are_one_line_errors(tiny_model):
    with pytest.raises(InputError, match="6 values"):
        parse_edit(tiny_model, [1.0, 2.0])
    with pytest.raises(InputError, match="finite"):
        parse_edit(tiny_model, [float("nan")] + [0.0] * 5)
    with pytest.raises(InputError, match="finite"):
        parse_edit(tiny_model, {2: float("inf")})
    with pytest.raises(InputError, match="DIRECTION=VALUE"):
        parse_edit(tiny_model, "3:1")
    with pytest.raises(InputError, match="DIRECTION=VALUE"):
        parse_edit_text("3=one")
    with pytest.raises(InputError, match="numbers"):
        parse_edit(tiny_model, {"a": 1.0})
    with pytest.raises(InputError, match="numbers"):
        parse_edit(tiny_model, {2.5: 1.0})  # not truncated to direction 2


def test_a_batch_of_edits_keeps_its_rows(tiny_model):
    rows = np.arange(12, dtype=np.float32).reshape(2, 6)
    assert torch.equal(parse_edit(tiny_model, rows, batch=True), torch.from_numpy(rows))
    assert parse_edit(tiny_model, {2: 1.0}, batch=True).shape == (1, 6)
    with pytest.raises(InputError, match="6 values"):
        parse_edit(tiny_model, rows)  # without batch=True, one edit only


# ---- driving clips --------------------------------------------------------------------------


def _per_frame(model, frames: np.ndarray) -> torch.Tensor:
    with torch.inference_mode():
        x = _by_hand(frames)
        return torch.cat([model.encode_motion(x[i : i + 1]) for i in range(len(x))])


def test_clip_magnitudes_match_a_per_frame_encode_motion_loop(tiny_model, tmp_path):
    frames = moving_frames(7, 64, seed=6)
    want = _per_frame(tiny_model, frames)
    got = clip_magnitudes(tiny_model, frames, batch_size=3, precision="float32")
    assert got.shape == (7, 6) and got.dtype == torch.float32 and got.device.type == "cpu"
    assert torch.allclose(got, want, atol=1e-5)
    folder = write_png_folder(tmp_path / "clip", frames)  # lossless, so the same values
    from_path, kept = clip_magnitudes(tiny_model, folder, keep_frames=True)
    assert torch.allclose(from_path, want, atol=1e-5)
    assert np.array_equal(kept, frames)
    one_shot = clip_magnitudes(tiny_model, iter(list(frames)), batch_size=2)
    assert torch.allclose(one_shot, want, atol=1e-5)
    as_tensor = clip_magnitudes(tiny_model, _by_hand(frames), batch_size=4)
    assert torch.allclose(as_tensor, want, atol=1e-5)


def test_clip_magnitudes_of_non_square_frames_use_the_crop(tiny_model):
    wide = moving_frames(3, 64, 80, seed=7)
    want = _per_frame(tiny_model, np.ascontiguousarray(wide[:, :, 8:72]))
    assert torch.allclose(clip_magnitudes(tiny_model, wide), want, atol=1e-5)


def test_driving_video_knows_its_length_and_rate(tmp_path):
    frames = moving_frames(5, 64)
    folder = write_png_folder(tmp_path / "clip", frames)
    drive = DrivingVideo(folder, 64)
    assert drive.n_frames == 5 and drive.fps == 25.0 and drive.reiterable
    assert [len(u8) for u8, _ in drive.batches(2)] == [2, 2, 1]
    assert drive.at_least == 2
    once = DrivingVideo(iter(frames), 64)
    assert once.n_frames is None and not once.reiterable
    assert sum(len(u8) for u8, _ in once.batches(4, tensors=False)) == 5
    with pytest.raises(InputError, match="already consumed"):
        next(once.batches(4))


def test_driving_video_refuses_bad_frames(tmp_path):
    with pytest.raises(InputError, match=r"\(T, 3, 64, 64\)"):
        DrivingVideo(torch.zeros(3, 3, 32, 32), 64)
    with pytest.raises(InputError, match="uint8"):
        DrivingVideo(np.zeros((3, 64, 64, 3), np.float32), 64)
    with pytest.raises(InputError, match="int"):
        DrivingVideo(42, 64)
    with pytest.raises(InputError, match=r"floats in \[-1, 1\].*uint8"):
        DrivingVideo(torch.zeros(3, 3, 64, 64, dtype=torch.uint8), 64)
    with pytest.raises(MediaError, match="no frames"):
        DrivingVideo(np.zeros((0, 64, 64, 3), np.uint8), 64)
    with pytest.raises(InputError, match="uint8"):
        next(DrivingVideo([np.zeros((64, 64), np.uint8)], 64).batches(1))


def test_clip_magnitudes_warns_once_for_an_emulated_bfloat16(tiny_model, monkeypatch):
    monkeypatch.setenv(ENV_OVERRIDE, "0")
    frames = moving_frames(5, 64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = clip_magnitudes(tiny_model, frames, batch_size=1, precision="bfloat16")
    assert [w.category for w in caught] == [PrecisionWarning]
    assert torch.allclose(got, _per_frame(tiny_model, frames), atol=1e-5)
