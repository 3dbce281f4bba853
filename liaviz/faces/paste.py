"""Paste-back: a model-size result put back into the photo it was cropped from.

The result is mapped through the crop's inverse transform (``CropBox.matrix``) and blended in
with a mask that is 1 inside the box and falls smoothly to 0 over a band along its edges
(``feather``, a share of the side). Outside the box the output is the photo, bit for bit; inside
the band the two mix, so no edge shows where they meet.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .framing import CropBox

FEATHER = 0.06  # width of the blend band, as a share of the box's side


def feather_mask(box: CropBox, region: tuple[int, int, int, int], feather: float = FEATHER):
    """The blend weights over ``region`` (x0, y0, x1, y1 integer photo pixels), float32 (h, w):
    1 inside the box, 0 outside it, a smoothstep ramp over the band of width ``feather * side``
    along its inner edge."""
    x0, y0, x1, y1 = region
    u = (np.arange(x0, x1) + 0.5 - box.x0) / box.side  # pixel centres, 0..1 across the box
    v = (np.arange(y0, y1) + 0.5 - box.y0) / box.side
    du = np.minimum(u, 1 - u)
    dv = np.minimum(v, 1 - v)
    d = np.minimum(dv[:, None], du[None, :])
    t = np.clip(d / feather, 0.0, 1.0) if feather > 0 else (d > 0).astype(np.float64)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def paste_back(
    photo: np.ndarray, result: np.ndarray, box: CropBox, feather: float = FEATHER
) -> np.ndarray:
    """``result`` (uint8 (S, S, 3), the model's output for ``box.crop(photo, S)``) blended into
    a copy of ``photo`` (uint8 (H, W, 3)) where the box was cut."""
    h, w = photo.shape[:2]
    x0, y0 = max(math.floor(box.x0), 0), max(math.floor(box.y0), 0)
    x1, y1 = min(math.ceil(box.x0 + box.side), w), min(math.ceil(box.y0 + box.side), h)
    out = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    size = result.shape[0]
    n = round(box.side)
    if 0 < n < size:  # shrinking: Pillow's anti-aliased filter, then a near-identity warp
        result = np.asarray(Image.fromarray(result).resize((n, n), Image.BILINEAR))
        size = n
    import cv2  # only here: opencv comes with the detector and takes a while to import

    # photo pixel (x, y) of the region -> result pixel: the crop's forward map, shifted
    m = box.matrix(size)
    m[:2, 2] += m[:2, :2] @ np.array([x0, y0])
    warped = cv2.warpAffine(
        np.ascontiguousarray(result),
        m[:2],
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    mask = feather_mask(box, (x0, y0, x1, y1), feather)[..., None]
    under = photo[y0:y1, x0:x1].astype(np.float32)
    blended = under + mask * (warped.astype(np.float32) - under)
    out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out
