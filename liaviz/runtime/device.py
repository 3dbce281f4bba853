"""Numeric precision of inference: float32, or bfloat16 autocast where the hardware computes it.

bfloat16 pays only on hardware with bf16 arithmetic: CUDA GPUs that support it, and CPUs with
AVX512-BF16 or AMX units. Elsewhere a CPU emulates it, about 100x slower than float32. So:

- ``"auto"`` (the default everywhere) is bfloat16 where the device computes it natively, else
  float32;
- ``"bfloat16"`` asked for on a device without bf16 units runs in float32 instead, with a
  one-line ``PrecisionWarning`` that says why (never a silent 100x slowdown);
- ``"float32"`` is exact.

``native_bf16`` is the one place that decides. ``LIAVIZ_NATIVE_BF16=0`` (or ``1``) overrides it:
to keep results exact on a bf16 machine, or to force bf16 where detection is wrong.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Literal

import torch

from ..errors import UserError
from ..nn import LIA

Precision = Literal["auto", "float32", "bfloat16"]
Resolved = Literal["float32", "bfloat16"]
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16")
ENV_OVERRIDE = "LIAVIZ_NATIVE_BF16"

# CPU flags (as /proc/cpuinfo spells them) of units with bf16 dot products
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) that still allow those units; any other cap forbids them
_ONEDNN_BF16_ISAS = (
    "ALL",
    "AVX512_CORE_BF16",
    "AVX512_CORE_FP16",
    "AVX512_CORE_AMX",
    "AVX512_CORE_AMX_FP16",
    "AVX10_1_512",
    "AVX10_1_512_AMX",
    "AVX10_1_512_AMX_FP16",
    "AVX10_2_512",
    "AVX10_2_512_AMX_2",
)


class PrecisionError(UserError, ValueError):
    """A precision name that is not one of ``PRECISIONS``."""


class PrecisionWarning(UserWarning):
    """bfloat16 was asked for on a device that would emulate it; float32 runs instead."""


def cpu_flags_have_bf16(cpuinfo: str) -> bool:
    """Whether a /proc/cpuinfo text lists a bf16 arithmetic unit (AVX512-BF16 or AMX-BF16)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags = set(value.split())
            return any(flag in flags for flag in _CPU_BF16_FLAGS)
    return False


@lru_cache(maxsize=1)
def _cpu_bf16() -> bool:
    """This CPU's bf16 units, as oneDNN (which runs the convolutions) may use them."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "ALL"))
    if isa.strip().upper() not in _ONEDNN_BF16_ISAS:
        return False  # oneDNN is capped below the bf16 units (e.g. AVX2 emulation)
    if torch.backends.cpu.get_cpu_capability() not in ("AVX512", "AMX"):
        return False  # ATen capped too, or a CPU without AVX-512 (no bf16 units at all)
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return cpu_flags_have_bf16(f.read())
    except OSError:  # not Linux: oneDNN's own probe (it also says yes for plain AVX-512)
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 in hardware (the single detection point)."""
    override = os.environ.get(ENV_OVERRIDE, "").strip()
    if override in ("0", "1"):
        return override == "1"
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return _cpu_bf16()
    return False  # MPS and others: float32 unless overridden


def choose_precision(precision: str | None, device: torch.device | str) -> tuple[Resolved, str]:
    """The precision to run (``"float32"`` or ``"bfloat16"``) and, when a bfloat16 request is
    turned down, the one-line reason ("" otherwise). ``None`` means ``"auto"``."""
    precision = precision or "auto"
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return "float32", ""
    device = torch.device(device)
    if native_bf16(device):
        return "bfloat16", ""
    if precision == "auto":
        return "float32", ""
    where = (
        "this CPU has no AVX512-BF16/AMX units"
        if device.type == "cpu"
        else (f"{device.type} has no native bfloat16 support")
    )
    return "float32", (
        f"bfloat16 would be emulated here and about 100x slower ({where}); running in float32 "
        f"(set {ENV_OVERRIDE}=1 to force bfloat16)"
    )


def resolve_precision(precision: str | None, device: torch.device | str) -> Resolved:
    """``choose_precision``, with a ``PrecisionWarning`` when bfloat16 is turned down."""
    resolved, reason = choose_precision(precision, device)
    if reason:
        warnings.warn(reason, PrecisionWarning, stacklevel=2)
    return resolved


@contextmanager
def inference_on(device: torch.device | str, precision: Resolved) -> Iterator[None]:
    """``torch.inference_mode`` plus, for bfloat16, autocast on ``device``. Takes a resolved
    precision (see ``resolve_precision``); enter it around model calls only, never across a
    ``yield`` to the caller, so the caller's code keeps its own grad and autocast state."""
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"resolve the precision first, got {precision!r}")
    with torch.inference_mode():
        if precision == "float32":
            yield
        else:
            with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
                yield


# ---- where and how the model runs: the model's own device ------------------------------------


def resolve_device(name: str | torch.device = "auto", what: str = "device") -> torch.device:
    """A device to run on: ``"auto"`` is CUDA, then MPS, then the CPU; a device this machine does
    not have, an unknown name or ``meta`` (shapes without data) is a one-line ``UserError``
    whose message starts with ``what`` (a command line passes its flag)."""
    if isinstance(name, torch.device):
        name = str(name)
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"{what} {name}: CUDA is not available on this machine")
    if name == "mps" and not has_mps:
        raise UserError(f"{what} mps: MPS is not available on this machine")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"{what} {name}: unknown device (use auto, cpu, cuda or mps)") from None
    if device.type == "meta":  # shapes without data: nothing to compute on
        raise UserError(f"{what} {name}: a meta device holds no data (use auto, cpu, cuda or mps)")
    return device


def model_device(model: torch.nn.Module) -> torch.device:
    """The device holding the model's parameters."""
    return next(model.parameters()).device


def frames_per_call(model: LIA) -> int:
    """Frames per model call: 16 on a GPU; on a CPU about 256 Ki pixels per call (4 frames at
    256 px, 16 at 128 px and below), which keeps progress updates frequent and peak memory low.
    The model itself splits CPU batches so that no activation outgrows the allocator's reuse
    threshold (``LIA._chunk_size``); 4 frames at 256 px are no slower per frame than 1, and
    faster with 2 threads (``benchmarks/bench_model.py``: step b8 against b1)."""
    if model_device(model).type != "cpu":
        return 16
    return int(max(1, min(16, (256 * 256 * 4) // model.config.size**2)))


def inference(model: torch.nn.Module, precision: Precision | None = None):
    """The context for model calls: ``torch.inference_mode`` plus, when ``precision`` resolves to
    bfloat16 on the model's device, autocast (``liaviz.runtime.device``). A bfloat16 request the
    device would emulate runs in float32 with a ``PrecisionWarning``. Enter it around model calls
    only, never across a ``yield`` to the caller."""
    device = model_device(model)
    return inference_on(device, resolve_precision(precision, device))


__all__ = [
    "resolve_device",
    "ENV_OVERRIDE",
    "PRECISIONS",
    "Precision",
    "PrecisionError",
    "PrecisionWarning",
    "choose_precision",
    "cpu_flags_have_bf16",
    "inference",
    "native_bf16",
    "resolve_precision",
]
