"""What every caller of the model shares at run time, one module per concept.

``animate``, the analysis, ``evaluate``, the explorer and the benchmarks turn user inputs into
model inputs and run the model the same way:

- ``device``: where and how the model runs: ``model_device``, ``frames_per_call`` (frames per
  model call by default), ``inference`` (no autograd, plus bfloat16 autocast where the precision
  says so) and the precision choice itself (``resolve_precision``; ``None`` means ``"auto"``, the
  default everywhere: bfloat16 autocast where the device computes bf16 natively, else float32);
- ``source``: ``source_crop`` / ``source_tensor`` / ``encode_source``: a source image (path,
  uint8 array, tensor) as the model takes it (``crop="auto"`` finds the face, ``liaviz.faces``),
  and its encoding;
- ``driving``: ``DrivingVideo`` and ``clip_magnitudes``: a driving clip read in model-size
  batches (with ``crop="auto"``, one fixed face crop per shot), and its motion magnitudes A (T, M).

Progress bars are ``liaviz.progress``; edits along the directions (``parse_edit``) are
``liaviz.analysis.edits``. Direction numbers are 1-based everywhere a person writes them
(``--edit 3=1.5``, ``--mute 3``, the explorer's d3, directions.json), as in the paper's figures.
"""

from .device import Precision, frames_per_call, inference, model_device, resolve_precision
from .driving import DrivingVideo, clip_magnitudes
from .source import encode_source, source_crop, source_image, source_tensor

__all__ = [
    "DrivingVideo",
    "Precision",
    "clip_magnitudes",
    "encode_source",
    "frames_per_call",
    "inference",
    "model_device",
    "resolve_precision",
    "source_crop",
    "source_image",
    "source_tensor",
]
