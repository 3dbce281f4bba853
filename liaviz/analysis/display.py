"""Pixels for a screen: a small model's output enlarged without invented detail, and PNG bytes
for live views (files are written by ``liaviz.io.write_image``)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def upscale(image: np.ndarray, min_size: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer factor until the height H is >= ``min_size``
    (a 64 px model's output stays crisp in a 256 px view). Takes an image (H, W, 3) or a batch
    (..., H, W, 3), e.g. frames with the driving clip beside the result (H, 2W, 3)."""
    factor = max(1, -(-min_size // image.shape[-3]))
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=-3), factor, axis=-2)


def letterbox(image: np.ndarray, size: int, fill: int = 255) -> np.ndarray:
    """``image`` shrunk or enlarged to fit a (size, size) square, aspect kept, the rest ``fill``
    (a view of any photo that keeps the layout's square in place)."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    fitted = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    out = np.full((size, size, 3), fill, np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw] = fitted
    return out


def png(image: np.ndarray, min_size: int = 0, compress_level: int = 1) -> bytes:
    """uint8 (H, W, 3) -> PNG bytes for a view, enlarged (``upscale``) to at least ``min_size``;
    low compression by default: encoding time matters for live views."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(upscale(image, min_size))).save(
        buf, format="PNG", compress_level=compress_level
    )
    return buf.getvalue()
