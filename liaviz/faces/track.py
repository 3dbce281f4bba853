"""Faces through a video: one scan (cuts and detections per frame), then the crops.

``scan_clip`` is the expensive part: it reads every frame once, marks shot cuts (a jump in a
small thumbnail) and runs the detector on frames shrunk to at most 640 px (as the VoxCeleb
pipeline ran S3FD); with ``every`` > 1 on every ``every``-th frame of a shot, the frames between
interpolated. What is kept per frame is a few boxes, so memory stays flat however long the
video is. ``driving_crops`` then makes the crops as the VoxCeleb clips were made: the face is
followed through each shot (each frame's detection that overlaps the previous one most), and the
shot gets **one fixed crop**. A fixed crop keeps the head's translation in the relative motion; a crop per frame would strip
it out and add jitter. The box is the VoxCeleb one: the union of the face's detected boxes over
the shot, grown by ``SHOT_MARGIN`` of its size on each side and squared; on the official driving clip
(a VoxCeleb crop) it gives back that clip's own frame. Frames where the face is lost keep their
shot's crop; a shot with no face at all keeps the crop before it.

``split_tracks`` cuts a shot into every face's tracks by the VoxCeleb rule instead (a track ends
when its face is lost or drifts from its first box): ``liaviz prepare`` makes one clip of each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import numpy as np
from PIL import Image

from .detect import Face, FaceDetector, RetinaFaceDetector, box_iou, detect_faces
from .framing import CropBox, square_union
from .source import is_framed, whole_box

CUT_THUMB = 32  # side of the colour thumbnails compared for cuts
# mean |difference| of two consecutive thumbnails (0..1) that marks a cut: the official driving
# clip's frames differ by at most 0.015, a cut between two shots of one room by 0.1 or more
CUT_DIFF = 0.08
FOLLOW_IOU = 0.3  # a detection continues the face when it overlaps its last box this much
TRACK_IOU = 0.25  # a detection joins a track above this IoU with its first box (VoxCeleb)
VIDEO_MAX_SIDE = 640  # frames are shrunk to this before detection
# a driving clip's faces are detected on every 2nd frame of a shot (the others interpolated):
# detection is most of the scan's cost (about 25 ms a 720p frame on 2 cores)
DRIVING_DETECT_EVERY = 2
SHOT_MARGIN = 0.1  # the union of a shot's face boxes grows by this share of its size on each side


@lru_cache(maxsize=1)
def video_detector() -> FaceDetector:
    """The default detector at video resolution (frames shrunk to ``VIDEO_MAX_SIDE``), made
    once: its session loads on first use and then serves every clip."""
    return RetinaFaceDetector(max_side=VIDEO_MAX_SIDE)


@dataclass
class ClipScan:
    """What one pass over a clip saw."""

    shape: tuple[int, int] = (0, 0)  # (H, W) of the frames
    faces: list[list[Face]] = field(default_factory=list)  # per frame, largest first
    cuts: list[int] = field(default_factory=list)  # frames that start a new shot (not 0)

    @property
    def n_frames(self) -> int:
        return len(self.faces)

    def shots(self) -> list[tuple[int, int]]:
        """(first, end) frame ranges of the shots, end exclusive."""
        edges = [0, *self.cuts, self.n_frames]
        return [(a, b) for a, b in pairwise(edges) if b > a]


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """A small version of a frame, float32 in 0..1, for cut detection."""
    small = Image.fromarray(frame).resize((CUT_THUMB, CUT_THUMB), Image.BOX)
    return np.asarray(small, np.float32) / 255.0


def scan_clip(
    frames: Iterable[np.ndarray],
    detector: FaceDetector | None = None,
    progress=None,
    every: int = 1,
) -> ClipScan:
    """Detect faces and cuts in every frame of ``frames`` (uint8 (H, W, 3) each); ``progress``
    (a bar with ``update``) is advanced per frame.

    ``every`` > 1 runs the detector on every ``every``-th frame of a shot only, and on each
    shot's first and last frame. The frames between two detected ones get boxes and landmarks
    interpolated linearly when the faces of both pair up one to one (``_pairs``); where they do
    not (a face appears, leaves or jumps), those frames are detected after all, so where a face
    starts and ends stays exact. At most ``every - 1`` frames wait in memory."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    detector = detector or video_detector()
    scan = ClipScan()
    previous = None
    waiting: list[tuple[int, np.ndarray]] = []  # frames since ``anchor``, not detected yet
    anchor = 0  # the current shot's last detected frame
    for index, frame in enumerate(frames):
        frame = np.asarray(frame)
        if index == 0:
            scan.shape = frame.shape[:2]
        thumb = thumbnail(frame)
        cut = previous is not None and float(np.abs(thumb - previous).mean()) > CUT_DIFF
        if cut:
            _end_shot(scan, anchor, waiting, detector)
            scan.cuts.append(index)
        previous = thumb
        scan.faces.append([])
        if index == 0 or cut or index - anchor >= every:
            scan.faces[index] = detect_faces(frame, detector)
            _fill(scan, anchor, index, waiting, detector)
            anchor = index
        else:
            waiting.append((index, frame))
        if progress is not None:
            progress.update(1)
    _end_shot(scan, anchor, waiting, detector)
    return scan


def _end_shot(scan: ClipScan, anchor: int, waiting: list, detector: FaceDetector) -> None:
    """Detect the shot's last frame if it is waiting, then fill the frames before it."""
    if waiting:
        last, frame = waiting.pop()
        scan.faces[last] = detect_faces(frame, detector)
        _fill(scan, anchor, last, waiting, detector)


def _fill(scan: ClipScan, start: int, end: int, waiting: list, detector: FaceDetector) -> None:
    """The faces of the ``waiting`` frames between detected frames ``start`` and ``end``:
    interpolated when the faces of both pair up, detected otherwise; ``waiting`` is emptied."""
    pairs = _pairs(scan.faces[start], scan.faces[end])
    for index, frame in waiting:
        if pairs is None:
            scan.faces[index] = detect_faces(frame, detector)
        else:
            t = (index - start) / (end - start)
            found = [_between(a, b, t) for a, b in pairs]
            scan.faces[index] = sorted(found, key=lambda f: -f.size)
    waiting.clear()


def _pairs(before: list[Face], after: list[Face]) -> list[tuple[Face, Face]] | None:
    """Each face of ``before`` with the face of ``after`` it overlaps most (IoU at least
    ``TRACK_IOU``, each used once); None when they do not pair up one to one."""
    if len(before) != len(after):
        return None
    pairs, free = [], list(after)
    for face in before:
        best = max(free, key=lambda f: box_iou(f.box, face.box), default=None)
        if best is None or box_iou(best.box, face.box) < TRACK_IOU:
            return None
        free.remove(best)
        pairs.append((face, best))
    return pairs


def _between(a: Face, b: Face, t: float) -> Face:
    """The face a share ``t`` of the way from ``a`` to ``b`` (box, landmarks and score)."""
    box = tuple(float(u + (v - u) * t) for u, v in zip(a.box, b.box, strict=True))
    return Face(box, a.landmarks + (b.landmarks - a.landmarks) * t, min(a.score, b.score))


def follow(faces: list[list[Face]], first: int = 0) -> list[Face | None]:
    """The face followed through one shot's detections: from the largest face of the first
    frame that has one (or its ``first``-th largest, 0-based), each frame takes the detection
    that overlaps the last box most (at least ``FOLLOW_IOU``); None where it is lost."""
    followed: list[Face | None] = []
    last: Face | None = None
    for found in faces:
        if last is None:
            pick = found[min(first, len(found) - 1)] if found else None
        else:
            overlaps = [(box_iou(f.box, last.box), i) for i, f in enumerate(found)]
            best = max(overlaps, default=(0.0, -1))
            pick = found[best[1]] if best[0] >= FOLLOW_IOU else None
        followed.append(pick)
        if pick is not None:
            last = pick
    return followed


@dataclass
class Track:
    """One face through consecutive frames: its detection in each, from frame ``first``."""

    first: int
    faces: list[Face]

    @property
    def end(self) -> int:
        """The frame after its last one."""
        return self.first + len(self.faces)


def split_tracks(faces: list[list[Face]], first: int = 0, iou: float = TRACK_IOU) -> list[Track]:
    """The tracks of one shot's detections (frame ``first`` onwards), as the VoxCeleb crops
    were cut: a detection joins an open track when its IoU with the track's **first** box is
    above ``iou`` (the best overlaps first; each track and each detection once per frame). A
    track that no detection joins ends there, so a track ends when its face is lost or has
    drifted too far from where it started; a detection that joins none starts a new track.
    Unlike ``follow``, every face is kept. Sorted by first frame, larger faces first."""
    running: list[Track] = []
    ended: list[Track] = []
    for offset, found in enumerate(faces):
        overlaps = sorted(
            ((box_iou(f.box, t.faces[0].box), ti, fi)
             for ti, t in enumerate(running) for fi, f in enumerate(found)),
            reverse=True,
        )  # fmt: skip
        joined: dict[int, int] = {}  # track -> detection
        for value, ti, fi in overlaps:
            if value <= iou:
                break
            if ti not in joined and fi not in joined.values():
                joined[ti] = fi
        still = []
        for ti, track in enumerate(running):
            if ti in joined:
                track.faces.append(found[joined[ti]])
                still.append(track)
            else:
                ended.append(track)
        used = set(joined.values())
        still += [Track(first + offset, [f]) for fi, f in enumerate(found) if fi not in used]
        running = still
    return sorted(ended + running, key=lambda t: (t.first, -t.faces[0].size))


def face_square(face: Face) -> CropBox:
    """A face's detected box as a (not snapped) square box of its larger side, same centre."""
    x0, y0, x1, y1 = face.box
    side = max(x1 - x0, y1 - y0, 1.0)
    return CropBox((x0 + x1 - side) / 2, (y0 + y1 - side) / 2, side)


@dataclass(frozen=True)
class DrivingCrops:
    """The fixed crop of each frame of a driving clip, and what the command reports."""

    boxes: list[tuple[int, int, CropBox]]  # (first, end, box) per shot, end exclusive
    whole: bool  # True: frames used whole (square and already framed, or no face at all)
    n_frames: int
    lost: int  # frames whose face was not found (they keep their shot's crop)
    cuts: int  # shot cuts
    faceless_shots: int  # shots with no face at all (they keep the crop before them)

    def box(self, index: int) -> CropBox:
        for first, end, box in self.boxes:
            if first <= index < end:
                return box
        return self.boxes[-1][2]  # a clip read longer than scanned: the last crop holds

    def describe(self) -> str:
        if self.whole:
            return "frames used whole (square and already framed like the model's input)"
        if len(self.boxes) == 1:
            x0, y0, x1, y1 = (round(v) for v in self.boxes[0][2].bounds)
            text = f"one fixed face crop [{x0}, {y0}, {x1}, {y1}]"
        else:
            text = f"{len(self.boxes)} shots, one fixed face crop each ({self.cuts} cut(s))"
        if self.lost:
            text += f"; {self.lost} of {self.n_frames} frames had no face found and kept the crop"
        if self.faceless_shots:
            text += f"; {self.faceless_shots} shot(s) without a face kept the previous crop"
        return text


def driving_crops(scan: ClipScan, margin: float = SHOT_MARGIN) -> DrivingCrops | None:
    """One fixed crop per shot of a scanned clip (see the module notes); None when no frame of
    the clip has a face and its frames are not square (the caller's error to raise)."""
    shots = scan.shots()
    per_shot: list[CropBox | None] = []
    lost = 0
    for first, end in shots:
        followed = follow(scan.faces[first:end])
        lost += sum(f is None for f in followed)
        boxes = [face_square(f) for f in followed if f is not None]
        per_shot.append(square_union(boxes, margin) if boxes else None)
    found = [b for b in per_shot if b is not None]
    if not found:
        if is_framed(scan.shape, None):
            return DrivingCrops([(0, scan.n_frames, whole_box(scan.shape))], True, scan.n_frames,
                                lost, len(scan.cuts), len(shots))  # fmt: skip
        return None
    if len(found) == 1 and is_framed(scan.shape, found[0]):
        return DrivingCrops([(0, scan.n_frames, whole_box(scan.shape))], True, scan.n_frames,
                            lost, len(scan.cuts), 0)  # fmt: skip
    boxes, carried, faceless = [], found[0], 0
    for (first, end), box in zip(shots, per_shot, strict=True):
        if box is None:
            faceless += 1
            box = carried
        carried = box
        boxes.append((first, end, box))
    return DrivingCrops(boxes, False, scan.n_frames, lost, len(scan.cuts), faceless)
