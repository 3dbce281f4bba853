"""Shared fixtures: where the shared reference data lives, and model builders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from liaviz import LIA, LIAConfig
from liaviz.runtime.device import ENV_OVERRIDE

from ._media import single_thread

# "auto" precision means float32 in every test, whatever the machine's bf16 units, so results do
# not depend on where the suite runs (child processes inherit it). Tests of bfloat16 set it to 1
# on tiny models: on a CPU without bf16 units, bf16 at 256 px is ~100x slower than float32.
os.environ[ENV_OVERRIDE] = "0"

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
DATA = SHARED / "data"

# A model small enough for fast CPU tests, with every architectural feature of the real one.
TINY = LIAConfig(size=64, latent_dim=32, motion_dim=6, channel_multiplier=0.0625, channel_max=32)


def needs_shared(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not available")


def official_manifest(size: int) -> dict[str, list[int]]:
    return json.loads((REFERENCE / f"lia_official_state_dict_{size}.json").read_text())


@pytest.fixture
def one_thread():
    """Torch on one thread for the test (``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    with single_thread():
        yield


@pytest.fixture
def tiny_model() -> LIA:
    torch.manual_seed(0)
    return LIA(TINY).eval()
