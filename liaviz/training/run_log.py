"""What a run records: scalars to ``log.jsonl`` (always) and TensorBoard (when installed, through
Accelerate's tracker), and image grids to ``samples/`` (and TensorBoard)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..io import to_uint8
from ..io.atomic import write_bytes


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def flat_hparams(config: dict) -> dict[str, Any]:
    """``{section.key: value}`` with non-scalar values as strings (TensorBoard's hparams)."""
    out = {}
    for section, values in config.items():
        for key, value in values.items():
            ok = isinstance(value, (bool, int, float, str)) or value is None
            out[f"{section}.{key}"] = value if ok else str(value)
    return out


class RunLog:
    """Appends one JSON object per logged step to ``RUN/log.jsonl``; forwards to Accelerate's
    trackers (TensorBoard) when the accelerator has any. Use on the main process only."""

    def __init__(self, out: Path, accelerator: Any | None = None) -> None:
        self.path = out / "log.jsonl"
        self.samples = out / "samples"
        self.accelerator = accelerator
        self.tensorboard = bool(accelerator is not None and accelerator.trackers)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        record = {"step": step}
        for k, v in values.items():
            v = float(v)
            record[k] = v if math.isfinite(v) else str(v)  # JSON has no nan/inf
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tensorboard:
            self.accelerator.log({k: float(v) for k, v in values.items()}, step=step)

    def event(self, step: int, message: str) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, "event": message}) + "\n")

    def images(self, step: int, columns: dict[str, torch.Tensor]) -> Path:
        """One row per sample, one column per named batch (N, 3, S, S) in [-1, 1]."""
        grid = image_grid(list(columns.values()))
        self.samples.mkdir(exist_ok=True)
        path = self.samples / f"step_{step:08d}.png"
        buf = io.BytesIO()
        Image.fromarray(grid).save(buf, format="PNG")
        write_bytes(path, buf.getvalue())
        if self.tensorboard:
            tracker = self.accelerator.get_tracker("tensorboard")
            name = "samples/" + "|".join(columns)
            tracker.log_images({name: grid[None]}, step=step, dataformats="NHWC")
        return path


def image_grid(columns: list[torch.Tensor], pad: int = 2) -> np.ndarray:
    """uint8 (H, W, 3) grid: column j shows ``columns[j][i]`` in row i, on a white background."""
    n = min(c.shape[0] for c in columns)
    size = columns[0].shape[-1]
    cell = size + pad
    grid = np.full((n * cell + pad, len(columns) * cell + pad, 3), 255, np.uint8)
    for j, col in enumerate(columns):
        frames = to_uint8(col[:n].float())
        for i in range(n):
            y, x = pad + i * cell, pad + j * cell
            grid[y : y + size, x : x + size] = frames[i]
    return grid
