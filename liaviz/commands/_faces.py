"""Face options shared by `liaviz animate` and `liaviz crop` (``liaviz.faces``)."""

from __future__ import annotations

import argparse

from ..errors import UserError
from ..numeric import MAX_FACES, flag, float32, integer

CROPS = ("auto", "center", "pad", "none")


def add_framing_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """--face and the framing overrides; returns the group, for commands that add more."""
    g = p.add_argument_group("faces")
    g.add_argument(
        "--face",
        type=flag(integer, 1, MAX_FACES),
        default=1,
        help="which face of the source photo: 1 = the largest",
    )
    g.add_argument(
        "--crop-scale",
        type=flag(float32),
        default=None,
        help="crop side x this (default 1: the rule's)",
    )
    g.add_argument(
        "--crop-vx", type=flag(float32), default=None, help="shift the crop right, in sides"
    )
    g.add_argument(
        "--crop-vy", type=flag(float32), default=None, help="shift the crop down, in sides"
    )
    return g


def framing_from(args: argparse.Namespace):
    """The ``Framing`` the options ask for; bad values are one-line errors."""
    from ..faces import Framing

    try:
        return Framing().with_overrides(scale=args.crop_scale, vx=args.crop_vx, vy=args.crop_vy)
    except ValueError as e:
        raise UserError(f"--crop-scale/--crop-vx/--crop-vy: {e}") from None
