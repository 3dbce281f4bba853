"""Smooth random motion for the synthetic faces: one value per frame for every factor."""

from __future__ import annotations

import math

import numpy as np

from .factors import FACTORS, Factor


def sample_trajectory(rng: np.random.Generator, n_frames: int) -> dict[str, np.ndarray]:
    """Smooth random motion: ``{factor: (n_frames,) float64}``, each within its range.

    Head pose (yaw, pitch, roll, tx, ty, scale) drifts: tanh-squashed sums of three sinusoids with
    per-video offset and amplitude. Expressions change often and on their own clock, as in a
    talking face: smile, brows and gaze hold a value for a few frames, then ease to a new one
    drawn over the whole range (often back to neutral; gaze in quick saccades); blinks are short
    full closures every ~10 frames on top of a slow squint; the mouth opens and closes at
    syllable rate with random depth. Each factor has its own generator, so expressions are
    independent of the pose and of each other. Frequencies and events are per frame and drawn in
    order, so a longer video extends a shorter one. Values are rounded to 6 decimals, the
    precision ``factors.csv`` stores, so re-rendering from the file gives the same frames.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    # one child generator per factor, drawn up front: each factor's stream is independent of
    # n_frames and of the other factors
    gens = [np.random.default_rng(s) for s in rng.integers(0, 2**63, size=len(FACTORS))]
    t = np.arange(n_frames, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    for f, g in zip(FACTORS, gens, strict=True):
        if f.name == "blink":
            v = _blink_track(g, t)
        elif f.name == "mouth_open":
            v = _hold_track(g, n_frames, f, move=(2, 4), hold=(0, 3), p_neutral=0.4)
        elif f.name in ("smile", "brow_raise"):
            v = _hold_track(g, n_frames, f, move=(7, 11), hold=(3, 12), p_neutral=0.3)
        elif f.name in ("gaze_x", "gaze_y"):
            v = _hold_track(g, n_frames, f, move=(2, 3), hold=(3, 12), p_neutral=0.3)
        else:
            wave = _sines(g, t, (1 / 100, 1 / 36))
            # tanh, not clipping: the extremes are reached smoothly, with no flat plateaus
            u = np.tanh(g.uniform(-0.5, 0.5) + g.uniform(0.5, 1.1) * wave)
            v = f.low + (u + 1.0) * 0.5 * (f.high - f.low)
        out[f.name] = np.round(v, 6)
    return out


def _sines(
    g: np.random.Generator, t: np.ndarray, freq: tuple[float, float], k: int = 3
) -> np.ndarray:
    """Sum of ``k`` sinusoids, scaled to unit RMS."""
    fr = g.uniform(*freq, size=k)
    ph = g.uniform(0, 2 * np.pi, size=k)
    w = g.uniform(0.4, 1.0, size=k)
    wave = (w[:, None] * np.sin(2 * np.pi * fr[:, None] * t[None] + ph[:, None])).sum(0)
    return wave / math.sqrt(float((w**2).sum()) / 2)


def _hold_track(
    g: np.random.Generator,
    n: int,
    f: Factor,
    move: tuple[int, int],
    hold: tuple[int, int],
    p_neutral: float,
) -> np.ndarray:
    """Hold a value for ``hold`` frames, ease (half a cosine) to a new one over ``move`` frames,
    repeat. A new value is the neutral one with probability ``p_neutral``, else uniform over the
    factor's range; the first is drawn the same way."""

    def target() -> float:
        return f.neutral if g.random() < p_neutral else float(g.uniform(f.low, f.high))

    values: list[float] = []
    current = target()
    while len(values) < n:
        values.extend([current] * int(g.integers(hold[0], hold[1] + 1)))
        nxt = target()
        steps = int(g.integers(move[0], move[1] + 1))
        ease = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, steps + 1) / steps)
        values.extend((current + (nxt - current) * ease).tolist())
        current = nxt
    return np.clip(np.array(values[:n]), f.low, f.high)


def _blink_track(g: np.random.Generator, t: np.ndarray) -> np.ndarray:
    squint = np.clip(g.uniform(-0.2, 0.25) + 0.15 * _sines(g, t, (1 / 80, 1 / 30)), 0.0, 0.4)
    v = squint.copy()
    start = g.exponential(8.0) - 4.0
    while start < len(t):
        dur = g.uniform(3.0, 7.0)
        bump = np.sin(np.clip((t - start) / dur, 0.0, 1.0) * np.pi)
        v = np.maximum(v, np.minimum(1.0, 1.15 * bump))
        start += dur + g.exponential(8.0) + 2.0
    return np.clip(v, 0.0, 1.0)
