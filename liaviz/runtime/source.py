"""A source image as the model takes it: read, checked, cropped around its face (``crop="auto"``,
``liaviz.faces``) or taken whole, and encoded once."""

from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import InputError
from ..faces import FaceCrop, Framing, align, whole_box
from ..io import Crop, prepare, read_image, to_tensor
from ..nn import LIA, SourceState
from .device import Precision, inference, model_device


def source_crop(
    image: np.ndarray,
    size: int,
    crop: Crop = "auto",
    *,
    face: int = 1,
    framing: Framing | None = None,
    name: str = "source",
) -> FaceCrop:
    """A source photo (uint8 (H, W, 3)) as the model takes it, (size, size), with the way back:
    ``crop="auto"`` crops around the face (``liaviz.faces.source``: ``face`` picks one, 1 = the
    largest; ``framing`` overrides the rule); ``"center"``, ``"pad"`` and ``"none"`` take the
    image whole (``FaceCrop.whole``: nothing to paste back)."""
    if crop == "auto":
        return align(image, size, face=face, framing=framing, name=name)
    return FaceCrop(prepare(image, size, crop), whole_box(image.shape), image.shape[:2], None, True)


def source_tensor(model: LIA, source, crop: Crop = "center") -> torch.Tensor:
    """A source image as the model takes it: (1, 3, S, S) float32 in [-1, 1] on its device.

    ``source``: an image path, a uint8 (H, W, 3) array (brought to the model size with ``crop``),
    or a tensor (3, S, S) or (1, 3, S, S) in [-1, 1]."""
    size = model.config.size
    if isinstance(source, SourceState):
        raise InputError("need the source image itself here, not only its SourceState")
    if isinstance(source, torch.Tensor):
        x = source if source.dim() == 4 else source.unsqueeze(0)
        if tuple(x.shape) != (1, 3, size, size) or not x.is_floating_point():
            raise InputError(
                f"source tensor must be floats in [-1, 1] of shape (1, 3, {size}, {size}), got "
                f"{str(source.dtype).removeprefix('torch.')} {tuple(source.shape)} (a uint8 "
                "image goes as a numpy array)"
            )
        return x.to(model_device(model), next(model.parameters()).dtype)  # float64, half: its own
    return to_tensor(source_crop(source_image(source), size, crop).crop).to(model_device(model))


def source_image(source) -> np.ndarray:
    """A source image from a path or a uint8 (H, W, 3) array, checked."""
    if isinstance(source, (str, os.PathLike)):
        source = read_image(source)
    image = np.asarray(source)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"source must be a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    return image


def encode_source(
    model: LIA, source, crop: Crop = "center", precision: Precision | None = None
) -> SourceState:
    """The source encoded once (latent, magnitudes A_s, appearance features): what every edit
    and animation decodes against. A ``SourceState`` passes through, moved to the model's device;
    anything else goes through ``source_tensor``."""
    if isinstance(source, SourceState):
        if source.batch_size != 1:
            raise InputError(f"expected one source, got a batch of {source.batch_size}")
        return source.to(model_device(model))
    x = source_tensor(model, source, crop)
    with inference(model, precision):
        return model.encode_source(x)
