"""The motion mixer's per-direction gains (``liaviz.animate``'s ``mute`` and ``motion_scale``).

The latent math itself is ``LIA.relative_latent`` / ``absolute_latent``'s ``gains``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from .errors import UserError


class MixerError(UserError, ValueError):
    """A mute list or motion scale that cannot be applied (unknown direction, not a number)."""


def mixer_gains(
    m: int, mute: Iterable[int] | None = None, motion_scale: float = 1.0
) -> torch.Tensor | None:
    """The motion mixer as per-direction gains (M,): 0 for each muted direction (1-based), the
    motion scale elsewhere; None when nothing is muted and the scale is 1 (the plain run)."""
    scale = check_motion_scale(motion_scale)
    muted = sorted({_direction(i, m) for i in (mute or ())})
    if not muted and scale == 1.0:
        return None
    gains = torch.full((m,), scale)
    gains[[i - 1 for i in muted]] = 0.0
    return gains


def check_motion_scale(motion_scale) -> float:
    """The motion scale as a float; not a finite number is a ``MixerError``."""
    try:
        scale = float(motion_scale)
    except (TypeError, ValueError):
        raise MixerError(f"motion scale must be a number, got {motion_scale!r}") from None
    if not np.isfinite(scale):
        raise MixerError(f"motion scale must be finite, got {motion_scale!r}")
    return scale


def _direction(index, m: int) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise MixerError(f"mute takes direction numbers (1-based), got {index!r}")
    if not 1 <= int(index) <= m:
        raise MixerError(f"cannot mute direction {index}: this model has {m} (1-{m})")
    return int(index)


__all__ = ["MixerError", "check_motion_scale", "mixer_gains"]
