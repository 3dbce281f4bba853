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

Whether a miss is the encoder's or the decoder's: ``latent_reach_ratios`` scores the same pairs
with, for each driving frame, the best latent code gradient descent finds for the decoder instead
of the encoder's. A factor the decoder cannot reach with any code cannot be transferred by any
encoder; a factor it reaches but the encoder misses is the encoder's to learn.

    reach = latent_reach_ratios(model, seed=11, identities=4)       # {factor: ratio}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data.synthetic import FACTORS, Identity, identity_seed, neutral_factors, render_face
from ..io import to_tensor
from ..nn import LIA
from ..runtime.device import inference, model_device
from ..runtime.source import encode_source


def reconstruct(model: LIA, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Every frame of an in-memory clip, uint8 (T, S, S, 3) at the model's size, rebuilt from the
    first one in absolute mode (eq. 11), in float32: the frames as tensors x and the
    reconstructions (unclamped), both (T, 3, S, S) in [-1, 1] on the model's device."""
    x = to_tensor(frames).to(model_device(model))
    state = encode_source(model, x[:1], precision="float32")
    with inference(model, "float32"):  # the clip is in memory already: one motion batch
        alpha = model.encode_motion(x)
        return x, model.decode(state, model.absolute_latent(state, alpha))


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
    return image_change_errors(out, x)


def image_change_errors(out: torch.Tensor, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``change_errors`` of decoded images, however their codes were made: ``out`` (T, 3, S, S)
    holds G(s, s) first, then G(s, d) for every driving frame of ``x`` (the frames, source first),
    both in [-1, 1]."""
    out, x = out.float().cpu().clamp(-1.0, 1.0), x.float().cpu()
    true = 0.5 * (x[1:] - x[:1])
    missed = _missed(out[1:], out[:1], true)
    return missed.numpy().astype(np.float64), true.abs().flatten(1).sum(1).numpy().astype(
        np.float64
    )


def factor_transfer_ratios(model: LIA, seed: int, identities: int) -> dict[str, float]:
    """The transfer ratio of every factor (see the module docstring) on ``identities`` unseen
    people of the test split with this seed, at the model's size."""
    if identities < 1:
        raise ValueError(f"identities must be >= 1, got {identities}")
    names, missed, changed = [], [], []
    for who in unseen_identities(seed, identities):
        frames, frame_names = factor_frames(who, model.config.size)
        m, c = change_errors(model, frames)
        names += frame_names
        missed += list(m)
        changed += list(c)
    return ratios_by_factor(names, missed, changed)


def ratios_by_factor(
    names: Sequence[str], missed: Sequence[float], changed: Sequence[float]
) -> dict[str, float]:
    """Per factor (in ``FACTORS`` order), the sum of ``missed`` over the driving frames of that
    factor (``names``, one per frame) over the sum of ``changed`` over them."""
    total_missed: dict[str, float] = dict.fromkeys(neutral_factors(), 0.0)
    total_changed: dict[str, float] = dict.fromkeys(neutral_factors(), 0.0)
    for name, m, c in zip(names, missed, changed, strict=True):
        total_missed[name] += m
        total_changed[name] += c
    return {name: float(total_missed[name] / total_changed[name]) for name in total_missed}


def latent_reach_ratios(
    model: LIA, seed: int, identities: int, steps: int = 200, lr: float = 0.05
) -> dict[str, float]:
    """The transfer ratio of every factor with the decoder driven by the best latent code found,
    per driving frame, by ``steps`` of Adam on the ratio's own numerator, starting from the
    encoder's code (absolute mode). The best code seen is kept, and the source's own code (which
    scores exactly 1.0) is a candidate too, so each ratio is at most 1 and at most the encoder's.
    A lower bound, up to the search, of what any encoder can reach with this decoder."""
    if identities < 1 or steps < 0:
        raise ValueError(f"identities must be >= 1 and steps >= 0, got {identities}, {steps}")
    names, missed, changed = [], [], []
    for who in unseen_identities(seed, identities):
        frames, frame_names = factor_frames(who, model.config.size)
        best, true = _reach(model, to_tensor(frames).float().to(model_device(model)), steps, lr)
        names += frame_names
        missed += best
        changed += true
    return ratios_by_factor(names, missed, changed)


def _reach(model: LIA, x: torch.Tensor, steps: int, lr: float) -> tuple[list[float], list[float]]:
    """Per driving frame x[1:] of source x[0] ([-1, 1]): the smallest sum |(G(s, z) - G(s, s)) -
    (x_d - x_s)| found over z, and sum |x_d - x_s|, with images in [0, 1]."""
    with torch.no_grad():
        state = model.encode_source(x[:1])
        own = model.self_latent(state)
        self_image = model.decode(state, own).clamp(-1.0, 1.0)
        z = model.absolute_latent(state, model.encode_motion(x[1:]))
        true = 0.5 * (x[1:] - x[:1])
        changed = true.abs().flatten(1).sum(1)
        encoded = _missed(model.decode(state, z), self_image, true)
        # start from the better code: the encoder's, or the source's own (nothing reproduced)
        z = torch.where((encoded < changed)[:, None], z, own.expand_as(z))
        best = torch.minimum(encoded, changed)
    z = z.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    for step in range(steps + 1):
        errors = _missed(model.decode(state, z), self_image, true)
        best = torch.minimum(best, errors.detach())  # the code reached by the previous step
        if step == steps:
            break
        # the gradient for z alone: the model's parameters are left untouched
        (z.grad,) = torch.autograd.grad(errors.sum(), z)
        optimizer.step()
    return best.tolist(), changed.tolist()


def _missed(image: torch.Tensor, self_image: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Per frame: sum |(G(s, z) - G(s, s)) - (x_d - x_s)| in [0, 1] units: ``image`` G(s, z) is
    clamped here, ``self_image`` G(s, s) already clamped, ``true`` = (x_d - x_s) / 2."""
    return (0.5 * (image.clamp(-1.0, 1.0) - self_image) - true).abs().flatten(1).sum(1)
