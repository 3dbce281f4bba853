"""Numbers given by a person (command-line flags, API arguments): parsed and range-checked in
one place, so a value that would overflow float32 (the model's type) or int64 (torch's) is a
one-line error naming the flag, never a traceback from deep inside torch."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable

import numpy as np

from .errors import UserError

FLOAT32_MAX = float(np.finfo(np.float32).max)  # about 3.4e38
MAX_BATCH = 65536  # frames per model call: far above what any device holds at 64 px
MAX_FRAMES = 100_000  # frames per clip a command makes or reads: over an hour at 24 fps
MAX_FACES = 1000  # --face N: no photo holds more faces than this
MAX_VIDEOS = 10_000_000  # videos a dataset command makes
MAX_SEED = 2**32 - 1  # numpy's seeds
MAX_WORKERS = 1024  # worker processes


def float32(value: object, what: str, error: type[UserError] = UserError) -> float:
    """``value`` as a float that float32 holds (finite, magnitude at most ``FLOAT32_MAX``);
    otherwise an ``error`` naming ``what``."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise error(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number) or abs(number) > FLOAT32_MAX:
        raise error(
            f"{what} must be a finite number within float32's range (±3.4e38), got {value!r}"
        )
    return number


def integer(value: object, what: str, lo: int, hi: int, error: type[UserError] = UserError) -> int:
    """``value`` as an integer in [lo, hi] (an int or its text; not a bool or 2.5)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, str)):
        raise error(f"{what} must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise error(f"{what} must be an integer, got {value!r}") from None
    if not lo <= number <= hi:
        raise error(f"{what} must be from {lo} to {hi}, got {number}")
    return number


def count_or_none(value: object, what: str, error: type[UserError] = UserError) -> int | None:
    """None (no limit), or a count of at least 1: as a slice end, -1 would silently drop the
    last item and 0 keep none."""
    return None if value is None else integer(value, what, 1, 2**62, error)


def max_threads() -> int:
    """More CPU threads than this only slow torch down (and 100000 crash it)."""
    return 4 * (os.cpu_count() or 1)


def flag(parse: Callable[..., object], *args: object) -> Callable[[str], object]:
    """An argparse ``type=`` from ``float32`` or ``integer``: its error becomes argparse's, which
    names the flag (exit 2)."""

    def parse_flag(text: str) -> object:
        try:
            return parse(text, "the value", *args)
        except UserError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse_flag
