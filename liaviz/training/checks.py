"""The vocabulary of ``options.py``: ``option(default, check)`` declares one setting, and the
checks say which values it takes, in words that error messages quote ("an integer >= 1").

A check is a predicate on a plain YAML value plus its description; the values are never
converted (``1`` is no float, ``"no"`` no boolean), so a config file means what it says.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple


class Check(NamedTuple):
    """Which values a setting takes: ``ok(value)``, and ``what`` for the error message."""

    ok: Callable[[Any], bool]
    what: str


def option(default: Any, check: Check) -> Any:
    """A dataclass field that is a setting: its default, and the check its values pass (the
    schema ``run_config.validate`` reads). A list default is copied for every instance."""
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata={"check": check})
    return dataclasses.field(default=default, metadata={"check": check})


def check_of(field: dataclasses.Field) -> Check:
    return field.metadata["check"]


def integers(lo: int, hi: int | None = None) -> Check:
    def ok(v: Any) -> bool:
        return (
            isinstance(v, int) and not isinstance(v, bool) and lo <= v <= (v if hi is None else hi)
        )

    return Check(ok, f"an integer >= {lo}" if hi is None else f"an integer from {lo} to {hi}")


def numbers(lo: float, hi: float = math.inf, lo_open: bool = False, hi_open: bool = False) -> Check:
    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)

    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    what = f"a number > {lo:g}" if lo_open else f"a number >= {lo:g}"
    return Check(ok, what if hi == math.inf else f"a number in {left}{lo:g}, {hi:g}{right}")


def optional(check: Check) -> Check:
    return Check(lambda v: v is None or check.ok(v), f"null or {check.what}")


def one_of(*choices: Any) -> Check:
    return Check(
        lambda v: any(v is c or (v == c and type(v) is type(c)) for c in choices),
        "one of " + ", ".join("null" if c is None else str(c) for c in choices),
    )


def list_of(check: Check, items: str, non_empty: bool = True) -> Check:
    return Check(
        lambda v: isinstance(v, list) and (bool(v) or not non_empty) and all(map(check.ok, v)),
        f"a{' non-empty' if non_empty else ''} list of {items}",
    )


BOOL = Check(lambda v: isinstance(v, bool), "true or false")
TEXT = Check(lambda v: isinstance(v, str) and v != "", "a non-empty string")
SCALE = numbers(0, 1, lo_open=True)  # a pyramid level: 1 the full image, 0.5 half of it, ...
SCALES = list_of(SCALE, "scales in (0, 1]")
