"""The crop the model expects, as one rule, and its inverse for paste-back.

LIA's models were trained on VoxCeleb crops. Measured with liaviz's detector on the official
256 px sample sources (``mona_lisa``, ``macron``): the eye midpoint sits at 0.495-0.497 of the
height, the eye-to-mouth distance is 0.221-0.224 of the side, and the face box's centre is at
0.49-0.50 of the width. ``Framing`` writes that down: side = eye-to-mouth / 0.225, eyes at 0.50
of the height, centred on the face box. ``scale``, ``vx`` and ``vy`` move away from it, as
LivePortrait's ``scale``, ``vx_ratio`` and ``vy_ratio`` do.

A ``CropBox`` is an axis-aligned square in the photo's pixel coordinates (pixel k covers
[k, k + 1)), the crop and its inverse: ``crop`` cuts and resizes it (padding where it leaves the
photo), ``paste`` puts a model-size result back into the photo through a feathered mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from .detect import Face, box_iou


@dataclass(frozen=True)
class Framing:
    """Where a face sits in the model's square input (the defaults: the VoxCeleb sample crops)."""

    eye_mouth: float = 0.225  # eye-to-mouth distance / side (measured 0.221-0.224)
    eye_height: float = 0.50  # height of the eyes' midpoint / side, from the top (0.495-0.497)
    scale: float = 1.0  # side x this: above 1 shows more around the face
    vx: float = 0.0  # shift right, in sides
    vy: float = 0.0  # shift down, in sides (negative: more forehead)

    def __post_init__(self) -> None:
        for name in ("eye_mouth", "eye_height", "scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"framing {name} must be a positive number, got {value!r}")
        for name in ("vx", "vy"):
            if not (math.isfinite(getattr(self, name)) and abs(getattr(self, name)) <= 1):
                raise ValueError(
                    f"framing {name} must be within -1..1, got {getattr(self, name)!r}"
                )

    def box(self, face: Face) -> CropBox:
        """The square crop of ``face`` under this rule."""
        eyes = face.landmarks[:2].mean(axis=0)
        mouth = face.landmarks[3:].mean(axis=0)
        side = float(np.linalg.norm(mouth - eyes)) / self.eye_mouth
        side = max(side, 1.0)
        x_centre = (face.box[0] + face.box[2]) / 2
        y_top = float(eyes[1]) - self.eye_height * side
        centre = (x_centre, y_top + side / 2)
        big = side * self.scale
        return CropBox(
            centre[0] - big / 2 + self.vx * big, centre[1] - big / 2 + self.vy * big, big
        ).snapped()

    def with_overrides(self, **changes) -> Framing:
        """A copy with the given fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class CropBox:
    """A square in photo pixel coordinates: left, top and side (floats)."""

    x0: float
    y0: float
    side: float

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x0 + self.side, self.y0 + self.side)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.side / 2, self.y0 + self.side / 2)

    def snapped(self) -> CropBox:
        """The box moved and sized to whole pixels: a crop at its own size is then an exact
        copy, and paste-back puts the same pixels back (sub-pixel framing does not matter)."""
        return CropBox(
            float(round(self.x0)), float(round(self.y0)), float(max(1, round(self.side)))
        )

    def iou(self, other: CropBox) -> float:
        return box_iou(self.bounds, other.bounds)

    def inside(self, width: int, height: int) -> bool:
        """Whether the box lies within a width x height image."""
        x0, y0, x1, y1 = self.bounds
        return x0 >= -1e-6 and y0 >= -1e-6 and x1 <= width + 1e-6 and y1 <= height + 1e-6

    def matrix(self, size: int) -> np.ndarray:
        """3x3 affine map from photo pixel indices to crop pixel indices (pixel centres), for a
        ``size`` crop; ``np.linalg.inv`` of it maps back."""
        k = size / self.side
        return np.array(
            [[k, 0.0, (0.5 - self.x0) * k - 0.5], [0.0, k, (0.5 - self.y0) * k - 0.5], [0, 0, 1]]
        )

    def crop(self, image: np.ndarray, size: int) -> np.ndarray:
        """The box cut out of ``image`` and resized to (size, size) with Pillow's anti-aliased
        bilinear filter; where the box leaves the image, its edge pixels are repeated."""
        h, w = image.shape[:2]
        x1, y1 = self.x0 + self.side, self.y0 + self.side
        if x1 <= 0 or y1 <= 0 or self.x0 >= w or self.y0 >= h:
            raise ValueError(f"crop box {self.bounds} lies outside the {w}x{h} image")
        ix0, iy0, ix1, iy1 = math.floor(self.x0), math.floor(self.y0), math.ceil(x1), math.ceil(y1)
        cx0, cy0, cx1, cy1 = max(ix0, 0), max(iy0, 0), min(ix1, w), min(iy1, h)
        region = image[cy0:cy1, cx0:cx1]
        pad = ((cy0 - iy0, iy1 - cy1), (cx0 - ix0, ix1 - cx1), (0, 0))
        if pad[0] != (0, 0) or pad[1] != (0, 0):
            region = np.pad(region, pad, mode="edge")
        left, top = self.x0 - ix0, self.y0 - iy0
        box = (left, top, left + self.side, top + self.side)
        return np.asarray(Image.fromarray(region).resize((size, size), Image.BILINEAR, box=box))


def square_union(boxes: list[CropBox], margin: float = 0.0) -> CropBox:
    """The smallest square, centred on their union, that holds every box, grown by ``margin``
    of its side on each side (the VoxCeleb crops: one fixed box per track)."""
    x0 = min(b.x0 for b in boxes)
    y0 = min(b.y0 for b in boxes)
    x1 = max(b.x0 + b.side for b in boxes)
    y1 = max(b.y0 + b.side for b in boxes)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    return CropBox((x0 + x1 - side) / 2, (y0 + y1 - side) / 2, side).snapped()
