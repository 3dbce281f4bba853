"""Per-factor transfer: how much of one known motion factor a model reproduces.

For a synthetic identity at neutral (the source x_s) and the same identity with one factor moved
to an end of its range (the driving frame x_d), the model animates the source by the driving
frame in absolute mode, G(s, d), and by itself, G(s, s). The part of the true change it fails to
reproduce is

    ratio = sum |(G(s, d) - G(s, s)) - (x_d - x_s)| / sum |x_d - x_s|

summed over both ends of the factor, every identity and every pixel (images in [0, 1]). 0 is a
perfect transfer, 1.0 what a model that ignores the factor scores, above 1 a model that changes
the wrong pixels. Differencing with G(s, s) removes the model's reconstruction error of the
source itself, so only the motion is scored.

    ratios = factor_transfer_ratios(model, seed=1, identities=16)   # {factor: ratio}
"""

from __future__ import annotations

import numpy as np

from .data.synthetic import FACTORS, Identity, identity_seed, neutral_factors, render_face
from .evaluate import reconstruct
from .nn import LIA


def unseen_identities(seed: int, count: int) -> list[Identity]:
    """The people of test videos 0..count-1 of a ``liaviz synth`` dataset with this seed."""
    people = []
    for index in range(count):
        ident_ss, _ = identity_seed(seed, "test", index).spawn(2)
        people.append(Identity.sample(np.random.default_rng(ident_ss)))
    return people


def factor_frames(who: Identity, size: int) -> tuple[np.ndarray, list[str]]:
    """The neutral face first, then each factor at its low and its high end (others neutral):
    (1 + 2K, S, S, 3) uint8, and the factor name of each frame after the first."""
    frames = [render_face(who, {}, size=size)]
    names = []
    for f in FACTORS:
        for end in (f.low, f.high):
            frames.append(render_face(who, {f.name: end}, size=size))
            names.append(f.name)
    return np.stack(frames), names


def change_errors(model: LIA, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame 0 is the source, every later frame a driving frame of the same identity. Per driving
    frame: sum |(G(s, d) - G(s, s)) - (x_d - x_s)| and sum |x_d - x_s| over pixels, in [0, 1]."""
    x, out = reconstruct(model, frames)
    out = (0.5 * (out.clamp(-1.0, 1.0) + 1.0)).float().cpu()
    x = 0.5 * (x.float().cpu() + 1.0)
    predicted, true = out[1:] - out[:1], x[1:] - x[:1]
    missed = (predicted - true).abs().flatten(1).sum(1)
    return missed.numpy().astype(np.float64), true.abs().flatten(1).sum(1).numpy().astype(
        np.float64
    )


def factor_transfer_ratios(model: LIA, seed: int, identities: int) -> dict[str, float]:
    """The transfer ratio of every factor (see the module docstring) on ``identities`` unseen
    people of the test split with this seed, at the model's size."""
    if identities < 1:
        raise ValueError(f"identities must be >= 1, got {identities}")
    missed: dict[str, float] = dict.fromkeys(neutral_factors(), 0.0)
    changed: dict[str, float] = dict.fromkeys(neutral_factors(), 0.0)
    for who in unseen_identities(seed, identities):
        frames, names = factor_frames(who, model.config.size)
        m, c = change_errors(model, frames)
        for name, mi, ci in zip(names, m, c, strict=True):
            missed[name] += mi
            changed[name] += ci
    return {name: float(missed[name] / changed[name]) for name in missed}
