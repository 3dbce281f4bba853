"""Pictures for a page that travels alone: every image is encoded into the page as a data URI
(WebP, still or animated: a 64 px frame is about 1.3 KB, a fifth of its PNG), so ``index.html``
copied anywhere shows everything without the files written beside it."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib
import numpy as np
from PIL import Image

THUMB = 128  # the longest side an inline picture keeps: the page shows them at most this large
QUALITY = 88  # lossy WebP: no visible loss on a model's output at the sizes shown


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def shrink(image: np.ndarray, max_size: int = THUMB) -> np.ndarray:
    """``image`` (H, W, 3) with its longest side at most ``max_size`` (area filter, aspect kept);
    smaller images are returned unchanged, never enlarged (the page enlarges them crisply)."""
    h, w = image.shape[:2]
    if max(h, w) <= max_size:
        return image
    scale = max_size / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.BOX))


def still(image: np.ndarray, max_size: int = THUMB, lossless: bool = False) -> str:
    """One uint8 (H, W, 3) image as a WebP data URI, shrunk to ``max_size``; ``lossless`` for
    flat-coloured maps (flows, masks) that lossy coding would smear."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(shrink(image, max_size))).save(
        buf, format="WEBP", quality=QUALITY, lossless=lossless, method=4
    )
    return data_uri(buf.getvalue(), "image/webp")


def animation(frames: Sequence[np.ndarray], fps: float = 12.0, max_size: int = THUMB) -> str:
    """Frames uint8 (H, W, 3) as a looping animated WebP data URI, each shrunk to ``max_size``
    (a tenth of the GIF's size for photos: only what changes between frames is stored)."""
    pictures = [Image.fromarray(np.ascontiguousarray(shrink(f, max_size))) for f in frames]
    buf = io.BytesIO()
    pictures[0].save(
        buf,
        format="WEBP",
        save_all=True,
        append_images=pictures[1:],
        duration=round(1000 / fps),
        loop=0,
        quality=QUALITY,
        method=4,
    )
    return data_uri(buf.getvalue(), "image/webp")


def heat_on_portrait(
    portrait: np.ndarray, heat: np.ndarray, region: Sequence[float] | None = None
) -> np.ndarray:
    """A direction's heat map (S, S) drawn over the portrait it was measured on (S, S, 3): the
    portrait in grey, the heat in magma on top where it is strong, and the region box (x0, y0,
    x1, y1 in 0-1) outlined in turquoise, as in ``liaviz directions``' figure."""
    grey = portrait.astype(np.float64).mean(-1, keepdims=True).repeat(3, -1)
    # scaled to a high quantile, not the peak: one hot pixel must not leave the rest invisible
    peak = float(np.quantile(heat, 0.99))
    level = np.clip(heat / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(heat)
    colour = matplotlib.colormaps["magma"](level)[..., :3] * 255
    # opacity follows the square root of the heat: weak spread-out motion stays visible
    alpha = 0.85 * np.sqrt(level)[..., None]
    out = (grey * (1 - alpha) + colour * alpha).round().astype(np.uint8)
    if region is not None:
        size = out.shape[0]
        x0, y0, x1, y1 = (int(np.clip(round(v * size), 0, size - 1)) for v in region)
        box = (64, 224, 208)
        out[y0, x0 : x1 + 1] = out[y1, x0 : x1 + 1] = box
        out[y0 : y1 + 1, x0] = out[y0 : y1 + 1, x1] = box
    return out
