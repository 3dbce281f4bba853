"""Slider ranges from data: each direction's range covers the motion that real frames ask for.

A driving frame t gives the source its motion through the edit e = A_t - A_s (eq. 11), so a
direction's slider must reach every frame's |A_t,i - A_s,i|; and to explore beyond the clip, at
least 3 standard deviations of a_i over the frames. Half-range = ``margin`` * max(3 sigma_i,
max_t |A_t,i - A_s,i|), rounded up to a readable number. Without data the range is
``DEFAULT_RANGE``.
"""

from __future__ import annotations

import math

import numpy as np

from . import AnalysisError

DEFAULT_RANGE = (-3.0, 3.0)  # without data: e_i in [-3, 3], as the paper's manipulation figures
MARGIN = 1.1  # room beyond the largest motion seen
SIGMAS = 3.0  # and at least this many standard deviations of a_i
STEPS = 200  # a slider has about this many steps over its range
NICE = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceil(x: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 (times a power of ten) >= x > 0."""
    if not x > 0 or not math.isfinite(x):
        raise AnalysisError(f"expected a positive finite number, got {x}")
    k = math.floor(math.log10(x))
    for base in NICE:
        v = round(base * 10.0**k, 12)
        if v >= x * (1 - 1e-12):
            return v
    return 10.0 ** (k + 1)


def nice_step(lo: float, hi: float, steps: int = STEPS) -> float:
    """A step of 1, 2 or 5 times a power of ten giving about ``steps`` steps over [lo, hi]."""
    raw = (hi - lo) / steps
    k = math.floor(math.log10(raw))
    for base in (1.0, 2.0, 5.0, 10.0):
        if base * 10.0**k >= raw * (1 - 1e-12):
            return round(base * 10.0**k, 12)
    return 10.0 ** (k + 1)


def ranges_from_magnitudes(
    alpha: np.ndarray, source_alpha: np.ndarray, margin: float = MARGIN, sigmas: float = SIGMAS
) -> np.ndarray:
    """Per-direction slider ranges (M, 2), symmetric about 0, from frames' magnitudes (N, M)
    and the source's A_s (M,): +-nice(margin * max(sigmas * std_i, max_t |A_t,i - A_s,i|))."""
    a = np.asarray(alpha, np.float64)
    s = np.asarray(source_alpha, np.float64).reshape(-1)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] != s.size:
        raise AnalysisError(f"expected magnitudes (N, {s.size}), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise AnalysisError("the magnitudes contain NaN or infinite values")
    reach = np.abs(a - s).max(axis=0)
    spread = a.std(axis=0) * sigmas
    half = margin * np.maximum(np.maximum(reach, spread), 1e-3)
    half = np.array([nice_ceil(h) for h in half])
    return np.stack([-half, half], axis=1)


def widened(lo: float, hi: float, value: float) -> tuple[float, float]:
    """The range grown (to a readable bound, symmetric) just enough to hold ``value``."""
    if lo <= value <= hi:
        return lo, hi
    half = nice_ceil(max(abs(lo), abs(hi), abs(value) * MARGIN))
    return -half, half


def snap(value: float, lo: float, step: float) -> float:
    """``value`` on the slider's grid (lo + k * step), as the browser will show it, so the value
    it sends back equals the one set (no echo render)."""
    k = round((value - lo) / step)
    return float(round(lo + k * step, 10))


def check_slider_options(value_range: tuple[float, float] | None, step: float | None) -> None:
    """A forced range must be finite with 0 strictly inside (0 is the reconstruction); a step
    positive."""
    if value_range is not None:
        lo, hi = (float(v) for v in value_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < 0 < hi):
            raise AnalysisError(
                f"value_range must be two finite numbers with 0 strictly inside, got {value_range}"
            )
    if step is not None and not step > 0:
        raise AnalysisError(f"step must be positive, got {step}")


def slider_ranges(
    m: int,
    alpha: np.ndarray | None,
    source_alpha: np.ndarray,
    value_range: tuple[float, float] | None = None,
    step: float | None = None,
) -> tuple[np.ndarray, list[float], str]:
    """The explorer's starting ranges (M, 2), steps, and where the ranges come from: ``"given"``
    (``value_range`` for all, see ``check_slider_options``), ``"data"``
    (``ranges_from_magnitudes`` of the frames' ``alpha``) or ``"default"`` (``DEFAULT_RANGE``)."""
    if value_range is not None:
        lo_hi, kind = np.tile(np.asarray(value_range, np.float64), (m, 1)), "given"
    elif alpha is not None:
        lo_hi, kind = ranges_from_magnitudes(alpha, source_alpha), "data"
    else:
        lo_hi, kind = np.tile(np.asarray(DEFAULT_RANGE, np.float64), (m, 1)), "default"
    return lo_hi, [step or nice_step(lo, hi) for lo, hi in lo_hi], kind
