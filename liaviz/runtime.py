"""What every caller of the model shares at run time: one place per concept.

``animate``, the analysis, ``evaluate``, the explorer and the benchmarks all turn user inputs into
model inputs and run the model the same way:

- ``progress``: a tqdm bar, or a silent stand-in with the same methods;
- ``batch_size``: frames per model call by default;
- ``inference``: no autograd, plus bfloat16 autocast where the precision says so;
- ``source_crop`` / ``source_tensor`` / ``encode_source``: a source image (path, uint8 array,
  tensor) as the model takes it (``crop="auto"`` finds the face, ``liaviz.faces``), and its
  encoding;
- ``parse_edit``: an edit along the motion directions, from any of the forms users write;
- ``DrivingVideo`` and ``clip_magnitudes``: a driving clip read in model-size batches (with
  ``crop="auto"``, one fixed face crop per shot), and its motion magnitudes A (T, M).

Direction numbers are 1-based everywhere a person writes them (``--edit 3=1.5``, ``--mute 3``,
the explorer's d3, directions.json), as in the paper's figures.

``precision`` takes what a user gives (``None`` means ``"auto"``, the default everywhere: bfloat16
autocast where the device computes bf16 natively, else float32; see ``liaviz.precision``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, islice

import numpy as np
import torch

from .errors import UserError
from .faces import FaceCrop, FaceError, Framing, align, driving_crops, scan_clip, whole_box
from .faces.track import DRIVING_DETECT_EVERY
from .io import Crop, MediaError, iter_video, prepare, read_image, to_tensor, to_uint8, video_info
from .mixer import direction_number
from .nn import LIA, SourceState
from .numeric import float32
from .precision import Precision, resolve_precision
from .precision import inference as _precision_inference


class InputError(UserError, ValueError):
    """A source, driving clip or edit in a form or shape the model cannot take."""


# ---- progress -----------------------------------------------------------------------------------


class _NoBar:
    """tqdm's interface, silent: iteration passes through, the rest does nothing."""

    def __init__(self, iterable: Iterable | None) -> None:
        self._iterable = iterable

    def __iter__(self) -> Iterator:
        return iter(self._iterable if self._iterable is not None else ())

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, n: float = 1) -> None:
        pass

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def progress(
    iterable: Iterable | None = None,
    *,
    enabled: bool = True,
    total: float | None = None,
    desc: str = "",
    unit: str = "frame",
):
    """A tqdm progress bar over ``iterable`` (or updated by hand), or, when not ``enabled``, an
    object with the same ``update``/``set_postfix``/``close``/iteration that shows nothing."""
    if not enabled:
        return _NoBar(iterable)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True)


# ---- where and how the model runs ---------------------------------------------------------------


def model_device(model: torch.nn.Module) -> torch.device:
    """The device holding the model's parameters."""
    return next(model.parameters()).device


def batch_size(model: LIA) -> int:
    """Frames per model call: 16 on a GPU; on a CPU about 256 Ki pixels per call (4 frames at
    256 px, 16 at 128 px and below), which keeps progress updates frequent and peak memory low.
    The model itself splits CPU batches so that no activation outgrows the allocator's reuse
    threshold (``LIA._chunk_size``); 4 frames at 256 px are no slower per frame than 1, and
    faster with 2 threads (``benchmarks/bench_model.py``: step b8 against b1)."""
    if model_device(model).type != "cpu":
        return 16
    return int(max(1, min(16, (256 * 256 * 4) // model.config.size**2)))


def inference(model: torch.nn.Module, precision: Precision | None = None):
    """The context for model calls: ``torch.inference_mode`` plus, when ``precision`` resolves to
    bfloat16 on the model's device, autocast (``liaviz.precision``). A bfloat16 request the
    device would emulate runs in float32 with a ``PrecisionWarning``. Enter it around model calls
    only, never across a ``yield`` to the caller."""
    device = model_device(model)
    return _precision_inference(device, resolve_precision(precision, device))


# names the keyword arguments of ``clip_magnitudes`` shadow
_default_batch_size, _progress_bar = batch_size, progress


# ---- the source ---------------------------------------------------------------------------------


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


# ---- edits --------------------------------------------------------------------------------------


def parse_edit_text(text: str) -> dict[int, float]:
    """``"3=1.5,7=-2"`` -> ``{3: 1.5, 7: -2.0}``: the text form of an edit (1-based directions;
    their range is checked against a model by ``parse_edit``)."""
    edit: dict[int, float] = {}
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            number, offset = int(key), float(value)
        except ValueError:
            raise InputError(
                f"an edit is DIRECTION=VALUE pairs such as 3=1.5, got {item!r}"
            ) from None
        edit[number] = float32(offset, f"the edit {item!r}", InputError)
    return edit


def parse_edit(model: LIA, edit, *, batch: bool = False) -> torch.Tensor | None:
    """An edit as float32 offsets along the directions, (M,) on the CPU; None means no edit.

    ``edit``: a mapping ``{direction: offset}`` (1-based; the others stay 0), the same as text
    ``"3=1.5,7=-2"``, or a sequence/array/tensor of M values. With ``batch=True`` the result is
    (N, M) and an (N, M) array is also taken (one edit per row)."""
    if edit is None:
        return None
    m = model.config.motion_dim
    if isinstance(edit, str):
        edit = parse_edit_text(edit)
    if isinstance(edit, Mapping):
        e = torch.zeros(m)
        for key, value in edit.items():
            i = direction_number(key, m, "edit", InputError)
            e[i - 1] = float32(value, "an edit value", InputError)
    else:
        try:
            if isinstance(edit, torch.Tensor):  # on any device
                e = edit.detach().to("cpu", torch.float32)
            else:
                e = torch.as_tensor(np.asarray(edit, dtype=np.float32))
        except (TypeError, ValueError):
            raise InputError(f"an edit must be numbers, got {type(edit).__name__}") from None
        if batch and e.dim() == 2 and e.shape[1] == m:
            pass
        elif e.numel() != m:
            raise InputError(f"edit needs {m} values (one per direction), got {e.numel()}")
        else:
            e = e.flatten()
    if not torch.isfinite(e).all():
        raise InputError("edit values must be finite numbers")
    if batch and e.dim() == 1:
        e = e[None]
    return e


# ---- driving clips ------------------------------------------------------------------------------


class DrivingVideo:
    """A driving video from a path (file, GIF or frame folder), an array/tensor of frames, or an
    iterable of uint8 frames, read in batches prepared to the model size.

    ``crop="auto"`` scans the clip once for faces and cuts first (``liaviz.faces.scan_clip``)
    and crops each shot at one fixed box (``crops``, ``liaviz.faces.driving_crops``); a one-shot
    iterator cannot be read twice, so its crop comes from its first batch. Tensors are
    model-size already.

    ``n_frames`` and, for a path, ``fps`` and ``info`` (``io.VideoInfo``) are known up front;
    ``n_frames`` is None for a one-shot iterator (``reiterable`` False)."""

    def __init__(self, driving, size: int, crop: Crop = "center") -> None:
        self.size = size
        self.crop = crop
        self.fps: float | None = None
        self.info = None
        self.n_frames: int | None = None
        self.at_least = 0
        self._source = driving
        self._used = False
        self._crops = None
        self.scan = None  # with crop="auto": what the face scan saw (liaviz.faces.ClipScan)
        if isinstance(driving, (str, os.PathLike)):
            self.info = video_info(driving)
            self.fps, self.n_frames = self.info.fps, self.info.n_frames
            self.name = str(driving)
            self.reiterable = True
        elif isinstance(driving, torch.Tensor):
            shape = tuple(driving.shape)
            if len(shape) != 4 or shape[1:] != (3, size, size) or not driving.is_floating_point():
                raise InputError(
                    f"driving tensor must be floats in [-1, 1] of shape (T, 3, {size}, {size}), "
                    f"got {str(driving.dtype).removeprefix('torch.')} {shape} (uint8 frames go "
                    "as a numpy array)"
                )
            self.n_frames, self.name, self.reiterable = driving.shape[0], "driving tensor", True
        elif isinstance(driving, np.ndarray):
            if driving.dtype != np.uint8 or driving.ndim != 4 or driving.shape[3] != 3:
                raise InputError(
                    f"driving array must be uint8 (T, H, W, 3), got {driving.dtype} {driving.shape}"
                )
            self.n_frames, self.name, self.reiterable = driving.shape[0], "driving frames", True
        elif isinstance(driving, Sequence):
            self.n_frames, self.name, self.reiterable = len(driving), "driving frames", True
        elif isinstance(driving, Iterable):
            self.name, self.reiterable = "driving frames", False
        else:
            raise InputError(f"cannot read driving frames from a {type(driving).__name__}")
        if self.n_frames == 0:
            raise MediaError(f"{self.name}: video has no frames")

    def crops(self, progress: bool = False, head: list | None = None):
        """The fixed face crops of a ``crop="auto"`` clip (``liaviz.faces.DrivingCrops``),
        scanned on first use; None for other crops and for tensors. A one-shot iterator cannot
        be read twice: its crop comes from its first frames (``head``) alone."""
        if self.crop != "auto" or isinstance(self._source, torch.Tensor):
            return None
        if self._crops is None:
            src = self._source
            if not self.reiterable:
                frames = iter(head or [])
            elif isinstance(src, (str, os.PathLike)):
                frames = iter_video(src)
            else:
                frames = iter(src)
            bar = _progress_bar(enabled=progress, total=self.n_frames, desc="finding faces")
            with bar:
                scan = scan_clip(
                    (self._check(f) for f in frames), progress=bar, every=DRIVING_DETECT_EVERY
                )
            if scan.n_frames == 0:
                raise MediaError(f"{self.name}: video has no frames")
            self.scan = scan
            self._crops = driving_crops(scan)
            if self._crops is None:
                raise FaceError(
                    f"{self.name}: no face found in any of its {scan.n_frames} frames; "
                    "--crop center (or --driving-crop center) uses the centre square as it is"
                )
        return self._crops

    def batches(
        self, batch_size: int, tensors: bool = True
    ) -> Iterator[tuple[np.ndarray, torch.Tensor | None]]:
        """Yield (uint8 (B, S, S, 3), float tensor (B, 3, S, S) or None) batches in order.

        Before the first batch leaves, ``self.at_least`` holds how many frames the video has, up
        to 2 (one frame is read ahead at the start, so a one-frame video is known early without
        making the first batch bigger)."""
        src = self._source
        if isinstance(src, torch.Tensor):
            self.at_least = min(2, src.shape[0])
            for i in range(0, src.shape[0], batch_size):
                t = src[i : i + batch_size].float()
                yield to_uint8(t), t
            return
        if not self.reiterable:
            if self._used:
                raise InputError("the driving iterator was already consumed")
            self._used = True
        frames = iter_video(src) if isinstance(src, (str, os.PathLike)) else iter(src)
        head = list(islice(frames, max(batch_size, 2)))
        if not head:
            raise MediaError(f"{self.name}: video has no frames")
        crops = self.crops(head=head)
        self.at_least = min(2, len(head))
        stream = chain(head, frames)
        del head
        index = 0
        while chunk := list(islice(stream, batch_size)):
            u8 = np.stack([self._prepare(f, index + i, crops) for i, f in enumerate(chunk)])
            index += len(chunk)
            yield u8, (to_tensor(u8) if tensors else None)

    def _prepare(self, frame, index: int, crops) -> np.ndarray:
        frame = self._check(frame)
        if crops is None:
            return prepare(frame, self.size, self.crop)
        if crops.whole:
            return prepare(frame, self.size, "center")
        return crops.box(index).crop(frame, self.size)

    @staticmethod
    def _check(frame) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(
                f"driving frames must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}"
            )
        return frame


def clip_magnitudes(
    model: LIA,
    frames,
    *,
    batch_size: int | None = None,
    precision: Precision | None = None,
    progress: bool = False,
    crop: Crop = "center",
    keep_frames: bool = False,
    desc: str = "encoding motion",
) -> torch.Tensor | tuple[torch.Tensor, np.ndarray]:
    """Motion magnitudes A_t of every frame of a clip, (T, M) float32 on the CPU: the one
    streaming loop over ``model.encode_motion``; only the (T, M) result is kept.

    ``frames``: anything ``DrivingVideo`` reads (or a ``DrivingVideo``). ``batch_size`` defaults
    to ``batch_size(model)``. With ``keep_frames``, also the model-size frames, uint8
    (T, S, S, 3)."""
    drive = (
        frames
        if isinstance(frames, DrivingVideo)
        else DrivingVideo(frames, model.config.size, crop)
    )
    n = batch_size or _default_batch_size(model)
    if n < 1:
        raise InputError(f"batch size must be at least 1, got {n}")
    device = model_device(model)
    resolved = resolve_precision(precision, device)  # warns once, not per batch
    alphas, kept = [], []
    bar = _progress_bar(enabled=progress, total=drive.n_frames, desc=desc)
    try:
        for u8, x in drive.batches(n):
            with _precision_inference(device, resolved):
                alphas.append(model.encode_motion(x.to(device)).float().cpu())
            if keep_frames:
                kept.append(u8)
            bar.update(len(u8))
    finally:
        bar.close()
    alpha = torch.cat(alphas)
    if keep_frames:
        return alpha, np.concatenate(kept)
    return alpha


__all__ = [
    "DrivingVideo",
    "InputError",
    "batch_size",
    "clip_magnitudes",
    "encode_source",
    "inference",
    "model_device",
    "parse_edit",
    "parse_edit_text",
    "progress",
    "source_crop",
    "source_image",
    "source_tensor",
]
