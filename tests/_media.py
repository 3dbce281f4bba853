"""Short synthetic media for tests, written with PyAV and Pillow directly (not with liaviz.io, so
the reader is checked against an independent writer)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image


def moving_frames(n: int, size: int = 64, width: int | None = None, seed: int = 0) -> np.ndarray:
    """n smooth uint8 frames (n, size, width, 3): a bright disc moving over a colour gradient.
    Smooth content survives H.264 with small errors."""
    width = width or size
    rng = np.random.default_rng(seed)
    base = rng.uniform(40, 200, size=3)
    yy, xx = np.mgrid[0:size, 0:width].astype(np.float32)
    out = np.empty((n, size, width, 3), np.uint8)
    for t in range(n):
        cy = size * (0.3 + 0.4 * t / max(n - 1, 1))
        cx = width * (0.5 + 0.25 * np.sin(t / 3.0))
        disc = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (size / 8) ** 2))
        for c in range(3):
            grad = base[c] * (0.6 + 0.4 * xx / width)
            out[t, ..., c] = np.clip(grad + 120 * disc * (c + 1) / 3, 0, 255).astype(np.uint8)
    return out


def write_mp4(path: Path, frames: np.ndarray, fps: float | Fraction = 10) -> Path:
    """H.264 mp4 (yuv420p; frames must have even sizes) at an exact frame rate."""
    rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_empty_mp4(path: Path) -> Path:
    """A valid mp4 container that holds no frame."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=10)
    stream.width = stream.height = 64
    stream.pix_fmt = "yuv420p"
    container.start_encoding()
    container.close()
    return path


def write_gif(path: Path, frames: np.ndarray, fps: float = 10) -> Path:
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def write_png_folder(path: Path, frames: np.ndarray) -> Path:
    path.mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(path / f"{i:04d}.png")
    return path


def write_png(path: Path, image: np.ndarray) -> Path:
    Image.fromarray(image).save(path)
    return path


@contextmanager
def single_thread() -> Iterator[None]:
    """Run tiny models on one thread. On a busy 2-core machine two OpenMP threads spin-wait on
    each other: measured 1.08 s of CPU time for a tiny-model batch that takes 0.08 s on one."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


ALIASES = ("same", "symlink", "hard link", "..")


def aliases(victim: Path, folder: Path) -> dict[str, Path]:
    """Names of the file ``victim``: itself, and in ``folder`` a symlink and a hard link (same
    suffix), and a path through ``..``."""
    folder.mkdir(exist_ok=True)
    link, hard = folder / f"link{victim.suffix}", folder / f"hard{victim.suffix}"
    link.symlink_to(victim)
    os.link(victim, hard)
    dotdot = folder / ".." / victim.parent.name / victim.name
    return {"same": victim, "symlink": link, "hard link": hard, "..": dotdot}
