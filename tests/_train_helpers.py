"""Generated training data and helpers for the training tests: small clips of a coloured disc
moving over a gradient, written as PNG frame folders (FOMM layout) or video files."""

from __future__ import annotations

import functools
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TRAIN_DIR = REPO / "train"
TRAIN_SCRIPT = TRAIN_DIR / "train.py"
TINY_CONFIG = TRAIN_DIR / "configs" / "tiny.yaml"


def clip_frames(n_frames: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """(T, size, size, 3) uint8: a disc of one colour moving on a circle over a fixed gradient."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([xx, yy, 0.5 * (1 - xx)], axis=-1) * 160 + 40
    colour = rng.uniform(0, 255, size=3)
    phase = rng.uniform(0, 2 * np.pi)
    frames = []
    for t in range(n_frames):
        a = phase + 2 * np.pi * t / max(n_frames, 1)
        cx, cy = 0.5 + 0.25 * np.cos(a), 0.5 + 0.25 * np.sin(a)
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < 0.03
        img = base.copy()
        img[disc] = colour
        frames.append(img.clip(0, 255).astype(np.uint8))
    return np.stack(frames)


def write_frame_folder(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i:04d}.png")
    return folder


def write_video(path: Path, frames: np.ndarray, fps: int = 10) -> Path:
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        iio.imwrite(path, frames, duration=100, loop=0)
    else:
        iio.imwrite(path, frames, plugin="pyav", codec="libx264", fps=fps)
    return path


def make_dataset(root: Path, clips: int = 3, frames: int = 8, size: int = 32) -> Path:
    """ROOT/train/clip_k/NNNN.png for k < clips."""
    for k in range(clips):
        write_frame_folder(root / "train" / f"clip_{k}", clip_frames(frames, size, seed=k))
    return root


def tiny(data: Path, out: Path, *extra: str) -> list[str]:
    """train.py's arguments for the tiny config on ``data``, into ``out``."""
    return ["--config", str(TINY_CONFIG), "--data", str(data), "--out", str(out), *extra]


def read_log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def loss_rows(run: Path) -> dict[int, dict]:
    """step -> logged scalars (later rows win, so a resumed run's rows replace nothing)."""
    return {r["step"]: r for r in read_log(run) if "event" not in r}


def run_train(args: list[str], timeout: float = 120, env: dict | None = None):
    """train.py in a subprocess, one process, no accelerate launcher."""
    full_env = {**os.environ, "PYTHONWARNINGS": "default", **(env or {})}
    return subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=REPO,
    )


def train_in_process(args: list[str], **hooks) -> int:
    """train.py's main() in this process (no interpreter start-up: fast for short runs);
    ``hooks`` go to ``training_loop`` (see ``nan_loss_at``)."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()
    return train_main()(args, **hooks)


@functools.cache
def train_main() -> Callable[..., int]:
    """train/train.py's ``main``: the entry script is a file, not a module of the package."""
    return runpy.run_path(str(TRAIN_SCRIPT), run_name="train_script")["main"]


def nan_loss_at(*steps: int):
    """A ``training_loop`` loss_hook: the generator's total loss is NaN at these steps (0-based),
    as a diverging run's would be; its terms stay as computed."""

    def hook(step: int, loss_fn):
        if step not in steps:
            return loss_fn

        def poisoned(*args):
            parts, total = loss_fn(*args)
            return parts, total * float("nan")

        return poisoned

    return hook
