"""Precision that fits the hardware: detection, "auto", the bfloat16 fallback, one context.

The detection is faked through its override (``LIAVIZ_NATIVE_BF16``) or by replacing
``native_bf16``; bfloat16 itself is computed on tiny models only, so these tests stay quick on
CPUs without bf16 units."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from liaviz import save_model
from liaviz.cli import main
from liaviz.errors import UserError
from liaviz.pipelines.animate import animate
from liaviz.runtime import device as P

from ._explore_helpers import clip, portrait
from ._explore_helpers import tiny_model as explorer_model
from ._media import moving_frames, write_mp4, write_png

FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma {extra}\nbugs\t\t: spectre_v1\n"


@pytest.fixture
def native(monkeypatch):
    """``native(True|False)``: what the detection reports, for every device."""

    def set_native(value: bool) -> None:
        monkeypatch.setenv(P.ENV_OVERRIDE, "1" if value else "0")

    return set_native


@pytest.mark.parametrize(
    ("extra", "expected"),
    [("avx512f avx512_bf16", True), ("amx_tile amx_bf16", True), ("avx512f avx512_vnni", False)],
)
def test_cpu_flags_name_the_bf16_units(extra, expected):
    assert P.cpu_flags_have_bf16(FLAGS.format(extra=extra)) is expected
    assert P.cpu_flags_have_bf16("processor\t: 0\n") is False  # no flags line at all


def test_onednn_capped_below_bf16_is_not_native(monkeypatch):
    """The AVX2 emulation (ONEDNN_MAX_CPU_ISA=AVX2) must count as a CPU without bf16 units,
    whatever this machine has: oneDNN would emulate bf16 there."""
    monkeypatch.delenv(P.ENV_OVERRIDE, raising=False)
    for isa in ("AVX2", "avx512_core"):
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)
        P._cpu_bf16.cache_clear()
        assert P.native_bf16("cpu") is False
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    P._cpu_bf16.cache_clear()
    assert isinstance(P.native_bf16("cpu"), bool)
    P._cpu_bf16.cache_clear()


def test_override_beats_detection(monkeypatch):
    monkeypatch.setenv(P.ENV_OVERRIDE, "1")
    assert P.native_bf16("cpu") and P.native_bf16("mps")
    monkeypatch.setenv(P.ENV_OVERRIDE, "0")
    assert not P.native_bf16("cpu")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_auto_picks_bf16_only_where_native(native, device):
    native(True)
    assert P.choose_precision("auto", device) == ("bfloat16", "")
    assert P.choose_precision(None, device) == ("bfloat16", "")
    assert P.choose_precision("bfloat16", device) == ("bfloat16", "")
    assert P.choose_precision("float32", device) == ("float32", "")
    native(False)
    assert P.choose_precision("auto", device) == ("float32", "")
    resolved, reason = P.choose_precision("bfloat16", device)
    assert resolved == "float32"
    assert "\n" not in reason and "float32" in reason and "100x" in reason
    if device == "cpu":
        assert "AVX512-BF16" in reason


def test_unknown_precision_is_a_user_error():
    with pytest.raises(UserError, match="precision must be one of auto, float32, bfloat16"):
        P.choose_precision("float16", "cpu")


def test_inference_context_casts_only_for_bfloat16():
    x, w = torch.randn(1, 4, 8, 8), torch.randn(4, 4, 3, 3)
    with P.inference_on("cpu", "bfloat16"):
        assert torch.is_inference_mode_enabled()
        assert F.conv2d(x, w).dtype == torch.bfloat16
    with P.inference_on("cpu", "float32"):
        assert torch.is_inference_mode_enabled()
        assert F.conv2d(x, w).dtype == torch.float32
    assert not torch.is_inference_mode_enabled()
    with pytest.raises(ValueError, match="resolve"), P.inference_on("cpu", "auto"):
        pass


# one thread per test: tiny models on 2 threads spin-wait on each other on a busy 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def media():
    frames = moving_frames(4, 64)
    return frames[0], frames


def test_animate_bfloat16_without_units_runs_float32_and_warns(tiny_model, native, media):
    source, frames = media
    native(False)
    exact = np.stack(list(animate(tiny_model, source, frames, precision="float32")))
    auto = np.stack(list(animate(tiny_model, source, frames)))
    with pytest.warns(P.PrecisionWarning, match="AVX512-BF16"):
        fallback = np.stack(list(animate(tiny_model, source, frames, precision="bfloat16")))
    np.testing.assert_array_equal(auto, exact)
    np.testing.assert_array_equal(fallback, exact)


def test_animate_auto_uses_bf16_units_when_present(tiny_model, native, media):
    """With (faked) bf16 units, auto really computes in bfloat16: a preview of the same picture."""
    source, frames = media
    exact = np.stack(list(animate(tiny_model, source, frames, precision="float32")))
    native(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", P.PrecisionWarning)
        auto = np.stack(list(animate(tiny_model, source, frames)))
    assert auto.shape == exact.shape and not np.array_equal(auto, exact)
    corr = np.corrcoef(auto.ravel().astype(float), exact.ravel().astype(float))[0, 1]
    assert corr > 0.8


def test_cli_prints_one_warning_line_and_runs_float32(tmp_path, tiny_model, native, capsys):
    ckpt = tmp_path / "tiny.safetensors"
    save_model(tiny_model, ckpt)
    source = write_png(tmp_path / "s.png", moving_frames(1, 64, seed=3)[0])
    driving = write_mp4(tmp_path / "d.mp4", moving_frames(3, 64))
    argv = ["animate", "--checkpoint", str(ckpt), "--source", str(source), "--driving"]
    argv += [str(driving), "--no-progress"]
    native(False)
    assert main([*argv, "--out", str(tmp_path / "a.mp4"), "--precision", "bfloat16"]) == 0
    err = capsys.readouterr().err
    warning_lines = [line for line in err.splitlines() if ": warning: " in line]
    assert len(warning_lines) == 1
    assert warning_lines[0].startswith("liaviz animate: warning: bfloat16 would be emulated")
    assert main([*argv, "--out", str(tmp_path / "b.mp4")]) == 0  # auto: float32, silently
    assert ": warning: " not in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path / "c.mp4"), "--precision", "half"])
    assert exit_info.value.code == 2


def test_explorer_resolves_once(native):
    from liaviz.explore import DirectionExplorer

    model = explorer_model()
    native(False)
    with pytest.warns(P.PrecisionWarning):
        ex = DirectionExplorer(
            model, portrait(), crop="center", precision="bfloat16", threaded=False
        )
    assert ex.precision == "float32"
    native(True)
    ex = DirectionExplorer(model, portrait(), crop="center", driving=clip(), threaded=False)
    assert ex.precision == "bfloat16"
