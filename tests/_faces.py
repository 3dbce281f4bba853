"""Test media with real faces at known places: the Mona Lisa crop that ships with liaviz (an
official VoxCeleb-framed sample source, so its whole square is the crop the model expects)
pasted into larger canvases, still or moving along known paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from liaviz.demo import SAMPLE_PORTRAIT
from liaviz.io import read_image

from ._media import write_mp4

MONA = read_image(SAMPLE_PORTRAIT)  # 256 px, framed as the model expects


def canvas(width: int, height: int, colour=(90, 110, 130)) -> np.ndarray:
    """A plain canvas with a soft gradient (so frames are not flat)."""
    xx = np.linspace(0, 40, width, dtype=np.float32)[None, :, None]
    return np.clip(np.array(colour, np.float32) + xx, 0, 255).astype(np.uint8).repeat(height, 0)


def put(image: np.ndarray, face: np.ndarray, x: int, y: int, side: int) -> np.ndarray:
    """``face`` resized to ``side`` with its top-left corner at (x, y) (clipped at the edges)."""
    out = image.copy()
    f = np.asarray(Image.fromarray(face).resize((side, side), Image.BILINEAR))
    h, w = out.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, w), min(y + side, h)
    if x1 > x0 and y1 > y0:  # nothing to draw for a face wholly outside
        out[y0:y1, x0:x1] = f[y0 - y : y1 - y, x0 - x : x1 - x]
    return out


def photo(width: int, height: int, x: int, y: int, side: int) -> np.ndarray:
    """A canvas with the Mona Lisa's framed crop at (x, y), ``side`` px."""
    return put(canvas(width, height), MONA, x, y, side)


def moving_clip(path: Path, n: int, start, step, side: int, size=(640, 360), fps=10) -> list:
    """An mp4 of the face crop moving by ``step`` (dx, dy) per frame from ``start``; returns
    the true crop squares (x, y, side) per frame."""
    frames, truth = [], []
    for t in range(n):
        x, y = round(start[0] + step[0] * t), round(start[1] + step[1] * t)
        frames.append(photo(*size, x, y, side))
        truth.append((x, y, side))
    write_mp4(path, np.stack(frames), fps)
    return truth
