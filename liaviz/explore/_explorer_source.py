"""The explorer's source: a portrait (or a photo and its face crop) encoded once, its decoder, the
anatomy that names the directions, and the ways in without code (uploads, the gallery)."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..analysis import ENCODE_PRECISION, AnalysisError, anatomy
from ..analysis.anatomy import Anatomy, analyze_directions, load_anatomy
from ..analysis.edits import direction_labels
from ..demo import sample_photo, sample_portrait
from ..io import Crop, to_uint8
from ..nn import LIA
from ..runtime.device import Precision
from ..runtime.source import encode_source, source_crop, source_image, source_tensor
from ._edits import EditDecoder

DISPLAY_SIZES = (16, 2048)  # px: smaller is unreadable, larger no longer fits a notebook


def check_display_size(size) -> int:
    """The shown image's side in pixels, a whole number in ``DISPLAY_SIZES``."""
    lo, hi = DISPLAY_SIZES
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not lo <= size <= hi:
        raise AnalysisError(
            f"display_size must be a whole number of pixels {lo}..{hi}, got {size!r}"
        )
    return int(size)


@dataclass(frozen=True)
class Example:
    """A gallery entry: a portrait shipped with liaviz and its saved slider settings, given as
    fractions of the slider ranges for the most important directions (so they suit any model)."""

    image: Callable[[], np.ndarray]
    settings: tuple[float, ...]  # for the 1st, 2nd, ... direction in importance order
    note: str

    def values(self, ranges: np.ndarray, order: list[int]) -> np.ndarray:
        """The settings as slider values (M,): the k-th fraction of the k-th direction's range."""
        v = np.zeros(len(ranges))
        for k, fraction in enumerate(self.settings):
            lo, hi = ranges[order[k]]
            v[order[k]] = fraction * (hi if fraction > 0 else -lo)
        return v


GALLERY = {
    "Mona Lisa": Example(sample_portrait, (0.3, 0.0, -0.2), "the shipped crop, a gentle edit"),
    "astronaut photo": Example(
        sample_photo, (-0.25, 0.2), "a whole photo: its face is cropped and pasted back"
    ),
}


class ExplorerSource:
    """The portrait being explored: ``source`` (S, S, 3) as the model sees it, ``state`` (encoded
    once), ``decoder``, the whole ``photo`` and ``placed`` crop (paste-back view) and ``anatomy``.

    ``anatomy``: "auto" measures it on each portrait shown (when the model has a motion
    dictionary), True always measures, an ``Anatomy`` or a directions.json path is used as
    given, None: none."""

    def __init__(self, model: LIA, precision: Precision, budget_s: float, spec="auto") -> None:
        self.model, self.precision, self.budget_s = model, precision, budget_s
        if isinstance(spec, (str, os.PathLike)) and not (isinstance(spec, str) and spec == "auto"):
            spec = load_anatomy(spec)
        if not (isinstance(spec, (Anatomy, bool, type(None))) or spec == "auto"):
            raise AnalysisError(
                "anatomy must be 'auto', True, None, an Anatomy or a directions.json path, "
                f"got {type(spec).__name__}"
            )
        self.measured = spec is True or (spec == "auto" and model.config.motion_dictionary)
        self.anatomy: Anatomy | None = spec if isinstance(spec, Anatomy) else None
        self.photo: np.ndarray | None = None
        self.placed = None

    def set(self, image, crop: Crop = "auto") -> None:
        """Encode a portrait (a path, uint8 image or model-size tensor; None: the Mona Lisa)."""
        photo, placed = None, None
        if not isinstance(image, torch.Tensor):  # a tensor is a model-size crop already
            photo = source_image(sample_portrait() if image is None else image)
            placed = source_crop(photo, self.model.config.size, crop)
            image, crop = placed.crop, "center"
        x = source_tensor(self.model, image, crop)
        state = encode_source(self.model, x, precision=ENCODE_PRECISION)
        self.photo, self.placed, self.state = photo, placed, state
        self.source = to_uint8(x.cpu())[0]
        self.decoder = EditDecoder(self.model, state, self.precision, self.budget_s)
        if self.measured:
            self.anatomy = analyze_directions(self.model, [self.source])

    def names(self, given) -> list[str]:
        """Names from ``given`` (a list or a directions.json), else from the anatomy."""
        m = self.model.config.motion_dim
        if isinstance(given, (str, os.PathLike)):
            return anatomy.direction_names(load_anatomy(given), m)
        if given is None and self.anatomy is not None:
            return anatomy.direction_names(self.anatomy, m)
        return direction_labels(m, given)


@dataclass(frozen=True)
class Upload:
    """One file from an upload box."""

    name: str
    content: bytes

    def image(self) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(self.content)) as im:
                return np.asarray(im.convert("RGB"))
        except Exception as e:  # Pillow raises several types for a file that is not an image
            raise AnalysisError(f"{self.name}: not an image Pillow can read ({e})") from None

    @contextlib.contextmanager
    def file(self) -> Iterator[Path]:
        """The upload as a temporary file (video readers take a path), with its suffix."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{Path(self.name).suffix.lower() or '.mp4'}"
            path.write_bytes(self.content)
            yield path


def read_upload(value) -> Upload:
    """The file of a ``FileUpload``'s value (ipywidgets 8: a tuple of dicts)."""
    item = value[0] if isinstance(value, (tuple, list)) else next(iter(value.values()))
    return Upload(str(item.get("name", "upload")), bytes(item["content"]))
