"""Which clips a scanned video gives: one per face track, one fixed crop each, and why the others
are dropped.

The crop is VoxCeleb's: the square union of the track's face boxes, grown by ``margin`` of its
side on each side (``liaviz.faces.square_union``, as ``liaviz animate`` crops a driving shot),
then moved out to even pixel coordinates (so the video's half-size colour planes can be cut
along with it; it grows by at most 2 px).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..faces.framing import CropBox, square_union
from ..faces.track import SHOT_MARGIN, ClipScan, face_square, split_tracks

# why a track gives no clip, in the order they are checked (each drop counts once)
DROP_REASONS = ("short", "small", "outside")
DROP_HELP = {
    "short": "shorter than --min-frames",
    "small": "crop smaller than --min-side",
    "outside": "crop leaves the frame (--pad keeps them)",
}


@dataclass(frozen=True)
class Rules:
    """How tracks become clips (the ``liaviz prepare`` options of the same names)."""

    size: int = 256  # output side, pixels
    margin: float = SHOT_MARGIN  # the union of the boxes grows by this share of its side, each side
    min_frames: int = 64  # VoxCeleb kept tracks of 64 frames or more
    min_side: int | None = None  # smallest crop side in source pixels (None: ``size``)
    pad: bool = False  # keep crops that leave the frame, repeating the edge pixels

    @property
    def smallest_side(self) -> int:
        return self.size if self.min_side is None else self.min_side


@dataclass(frozen=True)
class ClipPlan:
    """One clip to cut: frames [first, end) of the video, all through the same ``box``."""

    first: int
    end: int
    box: CropBox
    face_size: float  # the mean face size over the clip (``Face.size``), source pixels
    padded: bool  # the box leaves the frame; its edge pixels are repeated

    @property
    def n_frames(self) -> int:
        return self.end - self.first


def even_box(box: CropBox) -> CropBox:
    """The smallest square with even corner and side that holds ``box``."""
    x0, y0 = 2 * math.floor(box.x0 / 2), 2 * math.floor(box.y0 / 2)
    x1, y1 = box.x0 + box.side, box.y0 + box.side
    side = max(x1 - x0, y1 - y0)
    return CropBox(float(x0), float(y0), float(2 * math.ceil(side / 2)))


def plan_clips(scan: ClipScan, rules: Rules) -> tuple[list[ClipPlan], Counter]:
    """The clips of a scanned video (coordinates of its frames), in the order of their first
    frames, and how many tracks were dropped for each of ``DROP_REASONS``."""
    height, width = scan.shape
    kept: list[ClipPlan] = []
    dropped: Counter = Counter()
    for first, end in scan.shots():
        for track in split_tracks(scan.faces[first:end], first):
            box = even_box(square_union([face_square(f) for f in track.faces], rules.margin))
            inside = box.inside(width, height)
            if len(track.faces) < rules.min_frames:
                dropped["short"] += 1
            elif box.side < rules.smallest_side:
                dropped["small"] += 1
            elif not inside and not rules.pad:
                dropped["outside"] += 1
            else:
                size = float(np.mean([f.size for f in track.faces]))
                kept.append(ClipPlan(track.first, track.end, box, size, not inside))
    kept.sort(key=lambda c: (c.first, c.end, c.box.x0, c.box.y0))
    return kept, dropped
