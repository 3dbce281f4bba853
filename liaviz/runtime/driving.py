"""A driving clip read in model-size batches, and its motion magnitudes A (T, M).

``DrivingVideo`` reads a file, GIF, frame folder, array, tensor or iterator of frames; with
``crop="auto"`` it scans the clip once for faces and cuts and crops each shot at one fixed box
(``liaviz.faces``). ``clip_magnitudes`` is the one streaming loop over ``model.encode_motion``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice

import numpy as np
import torch

from ..errors import InputError
from ..faces import FaceError, driving_crops, scan_clip
from ..faces.track import DRIVING_DETECT_EVERY
from ..io import Crop, MediaError, iter_video, prepare, to_tensor, to_uint8, video_info
from ..nn import LIA
from ..progress import progress_bar
from .device import Precision, frames_per_call, inference_on, model_device, resolve_precision


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
            bar = progress_bar(enabled=progress, total=self.n_frames, desc="finding faces")
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
    to ``frames_per_call(model)``. With ``keep_frames``, also the model-size frames, uint8
    (T, S, S, 3)."""
    drive = (
        frames
        if isinstance(frames, DrivingVideo)
        else DrivingVideo(frames, model.config.size, crop)
    )
    n = batch_size or frames_per_call(model)
    if n < 1:
        raise InputError(f"batch size must be at least 1, got {n}")
    device = model_device(model)
    resolved = resolve_precision(precision, device)  # warns once, not per batch
    alphas, kept = [], []
    bar = progress_bar(enabled=progress, total=drive.n_frames, desc=desc)
    try:
        for u8, x in drive.batches(n):
            with inference_on(device, resolved):
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
