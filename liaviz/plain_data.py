"""Checks on structured data read from a file before anything walks it recursively.

A pickle or JSON file can hold a structure that contains itself, one nested far deeper than
Python's recursion limit, or one whose shared parts expand exponentially when walked (``a =
[a, a]`` forty times is 3 MB on disk and 2**40 values to ``json.dumps``). ``check_plain`` walks
such data without recursion and gives up at a depth and a count of values, so the checks that
follow (``json.dumps``, a digest, a comparison) are bounded too.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

MAX_DEPTH = 64  # nesting levels (a run's config is 3 deep, a checkpoint's optimizer state 5)
MAX_VALUES = 1_000_000  # values in all, each shared one counted every time it is reached
SCALARS = (str, bytes, int, float, bool, type(None))


class NotPlainData(ValueError):
    """Data that is not plain, or is nested too deep or too large to walk; says which, in one
    line."""


def check_plain(
    obj: Any,
    what: str,
    tensors: bool = False,
    max_depth: int = MAX_DEPTH,
    max_values: int = MAX_VALUES,
) -> None:
    """Raise ``NotPlainData`` naming ``what`` unless ``obj`` is dicts, lists, tuples and
    ``argparse.Namespace`` objects of strings, numbers, booleans and None (and tensors when
    ``tensors``), at most ``max_depth`` deep and ``max_values`` values in all."""
    stack = [(obj, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > max_values:
            raise NotPlainData(f"{what} is too large (more than {max_values:,} values)")
        if depth > max_depth:
            raise NotPlainData(f"{what} is nested more than {max_depth} levels deep")
        if isinstance(value, argparse.Namespace):
            value = vars(value)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, SCALARS):
                    raise NotPlainData(f"{what} has a key of type {type(key).__name__}")
                stack.append((item, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1) for item in value)
        elif not (isinstance(value, SCALARS) or (tensors and isinstance(value, torch.Tensor))):
            raise NotPlainData(f"{what} holds a {type(value).__name__}, not plain data")
