"""Shared bits of the explorer, notebook, demo and browser tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

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


def prepared(image: np.ndarray, size: int = 32) -> np.ndarray:
    """The largest centred square, resized with Pillow's bilinear filter: what a model of
    ``size`` sees of ``image`` (uint8 (H, W, 3) or frames (T, H, W, 3)), written out here."""
    if image.ndim == 4:
        return np.stack([prepared(f, size) for f in image])
    h, w = image.shape[:2]
    s = min(h, w)
    square = image[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return np.asarray(Image.fromarray(square).resize((size, size), Image.BILINEAR))


def uint8(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] (N, 3, H, W) -> uint8 (N, H, W, 3), written out here."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def expected_edit(model, source: np.ndarray, e: np.ndarray) -> np.ndarray:
    """z = z_{s->r} + (A_s + e) D^T, decoded: the paper's Fig. 6 from the model's parts."""
    x = torch.from_numpy(source.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.inference_mode():
        state = model.encode_source(x)
        q = model.directions()  # (D, M) orthonormal columns
        z = state.latent + (state.alpha + torch.as_tensor(e)[None]) @ q.T
        return uint8(model.dec(z, state.features))[0]


def assert_same_image(a: np.ndarray, b: np.ndarray) -> None:
    """Equal up to float rounding order (z summed in another order): off by one level at most,
    on a few pixels."""
    d = np.abs(a.astype(int) - b.astype(int))
    assert d.max() <= 1 and d.mean() < 0.01, (d.max(), d.mean())


def magnitudes(model, frames: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(frames.copy()).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.inference_mode():
        return model.enc.fc(model.enc.net_app(x)[0]).numpy()
