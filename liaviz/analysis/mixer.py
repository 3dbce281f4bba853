"""The motion mixer's per-direction gains (``liaviz.pipelines.animate``'s ``mute`` and ``motion_scale``).

The latent math itself is ``LIA.relative_latent`` / ``absolute_latent``'s ``gains``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from ..errors import UserError
from ..numeric import float32


class MixerError(UserError, ValueError):
    """A mute list or motion scale that cannot be applied (unknown direction, not a number)."""


def mixer_gains(
    m: int, mute: Iterable[int] | None = None, motion_scale: float = 1.0
) -> torch.Tensor | None:
    """The motion mixer as per-direction gains (M,): 0 for each muted direction (1-based), the
    motion scale elsewhere; None when nothing is muted and the scale is 1 (the plain run)."""
    scale = check_motion_scale(motion_scale)
    muted = sorted({direction_number(i, m, "mute") for i in (mute or ())})
    if not muted and scale == 1.0:
        return None
    gains = torch.full((m,), scale)
    gains[[i - 1 for i in muted]] = 0.0
    return gains


def check_motion_scale(motion_scale) -> float:
    """The motion scale as a float; not a finite float32 number is a ``MixerError``."""
    return float32(motion_scale, "motion scale", MixerError)


def direction_number(key, m: int, verb: str, error: type[UserError] = MixerError) -> int:
    """A 1-based direction number in 1..m, as ``--mute`` and ``--edit`` take it: an integer or its
    text ("3", from a command line). Anything else (a bool, 2.5, "d3") raises ``error`` naming
    ``verb`` (what the number was for: "mute", "edit")."""
    number = None
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        number = int(key)
    elif isinstance(key, str) and key.strip().lstrip("+-").isdigit():
        number = int(key)
    if number is None:
        raise error(f"{verb} takes direction numbers (1-based), got {key!r}")
    if not 1 <= number <= m:
        raise error(
            f"cannot {verb} direction {number}: directions count from 1 (this model has {m}: 1-{m})"
        )
    return number


__all__ = ["MixerError", "check_motion_scale", "direction_number", "mixer_gains"]
