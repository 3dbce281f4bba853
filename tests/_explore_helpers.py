"""Shared bits of the explorer, notebook, demo and browser tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from liaviz import LIA, LIAConfig

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "explore_directions.ipynb"


def tiny_model(size: int = 32, motion_dim: int = 6, seed: int = 0) -> LIA:
    """A random LIA small enough to decode in a few ms on one core."""
    config = LIAConfig(
        size=size, latent_dim=32, motion_dim=motion_dim, channel_multiplier=1 / 16, channel_max=32
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LIA(config).eval()


def portrait(size: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth random colour image (not square on purpose: it must be cropped)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0 : size + 8] / size
    img = np.stack(
        [np.sin(6 * x + rng.uniform(0, 6)), np.cos(5 * y + rng.uniform(0, 6)), x * y], -1
    )
    return ((img - img.min()) / np.ptp(img) * 255).astype(np.uint8)


def clip(n: int = 8, size: int = 40, seed: int = 1) -> np.ndarray:
    """A short driving clip: a bright square moving across a gradient (real motion to encode)."""
    base = portrait(size, seed)[:, :size]
    frames = []
    for t in range(n):
        f = base.copy()
        o = 4 + 3 * t
        f[o : o + 10, o : o + 10] = 255
        frames.append(f)
    return np.stack(frames)


def notebook_with(n_frames: int, folder: Path) -> Path:
    """A copy of the notebook with the ``parameters`` cell's N_FRAMES replaced (papermill-style),
    written into ``folder``."""
    nb = json.loads(NOTEBOOK.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    source = "".join(cells[0]["source"])
    new, count = re.subn(r"(?m)^N_FRAMES = \d+", f"N_FRAMES = {n_frames}", source)
    assert count == 1, "the parameters cell must set N_FRAMES"
    cells[0]["source"] = new
    out = folder / NOTEBOOK.name
    out.write_text(json.dumps(nb))
    return out
