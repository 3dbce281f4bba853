"""Streaming motion transfer: animate a still source image with a driving video (paper Sec. 3.4).

The source is encoded once. Driving frames are read, encoded to motion magnitudes and decoded in
batches; each batch leaves as soon as it is made, so memory stays flat however long the video.

- ``mode="relative"`` (eq. 12): z_{s->t} = z_{s->s} + w_{r->t} - w_{r->start}. The source keeps
  its own pose; the driving video's motion *relative to its start frame* is added.
- ``mode="absolute"`` (eq. 11): z_{s->t} = z_{s->r} + w_{r->t}. The source takes the driving
  frame's pose outright (the paper's same-identity reconstruction protocol).

``start="best"`` picks the driving frame whose motion code is nearest the source's own,
argmin_t ||A_t - A_s|| (the directions are orthonormal, so this is also the distance between the
latent paths w). It is LIA's native answer to FOMM's ``--find_best_frame`` and needs no landmark
model. As in FOMM, the result is the video animated forwards and backwards from that frame; with
LIA's eq. 12 every output frame depends only on (A_t, A_start), so both halves come out of one
in-order pass and the output keeps every frame in order.

``edit`` (M,) moves the source along the directions before animating, A_s <- A_s + e (LIA-X's
edit-warp-render: align the source's pose or expression first, then animate).

The motion mixer transfers only the motion you want: ``mute`` lists directions (1-based, as in
the paper and ``liaviz directions``) whose driving motion is not transferred, so they keep the
source's own magnitudes; ``motion_scale`` multiplies the transferred motion. Both become the
per-direction ``gains`` of ``LIA.relative_latent`` / ``absolute_latent`` (``liaviz.mixer``).
Muting every direction freezes the animation on the source's reconstruction; no mute and scale 1
is the plain run, bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Literal

import numpy as np
import torch

from .errors import UserError
from .io import Crop, MediaError, iter_video, prepare, read_image, to_tensor, to_uint8, video_info
from .mixer import mixer_gains
from .nn import LIA, SourceState
from .precision import Precision, Resolved, inference, resolve_precision

Mode = Literal["relative", "absolute"]
Start = Literal["first", "best"] | int


class AnimateError(UserError, ValueError):
    """Inputs that cannot be animated as asked (one-frame video in relative mode, bad start...)."""


@dataclass
class AnimatedBatch:
    """Consecutive output frames ``first .. first + len - 1`` of an animation."""

    first: int  # index of the first frame of this batch in the driving video
    images: torch.Tensor  # (B, 3, S, S) float32 on the CPU, unclamped model output
    driving: np.ndarray  # (B, S, S, 3) uint8: the driving frames as the model saw them

    def __len__(self) -> int:
        return self.images.shape[0]

    def frames(self) -> np.ndarray:
        """The outputs as uint8 (B, S, S, 3): clamped to [-1, 1] and mapped frame by frame."""
        return to_uint8(self.images)


def default_batch_size(model: LIA) -> int:
    """Frames per model call: 16 on a GPU; on a CPU about 256 Ki pixels per call (4 frames at
    256 px, 16 at 128 px and below), which keeps progress updates frequent and peak memory low.
    The model itself splits CPU batches so that no activation outgrows the allocator's reuse
    threshold (``LIA._chunk_size``); 4 frames at 256 px are no slower per frame than 1, and
    faster with 2 threads (``benchmarks/bench_model.py``: step b8 against b1)."""
    if next(model.parameters()).device.type != "cpu":
        return 16
    return int(max(1, min(16, (256 * 256 * 4) // model.config.size**2)))


def animate(
    model: LIA,
    source,
    driving,
    mode: Mode = "relative",
    start: Start | None = None,
    batch_size: int | None = None,
    edit=None,
    crop: Crop = "center",
    precision: Precision = "auto",
    progress: bool = False,
    mute: Iterable[int] | None = None,
    motion_scale: float = 1.0,
) -> Iterator[np.ndarray]:
    """Animate ``source`` with ``driving``; yields the output frames, uint8 (S, S, 3), in order.

    ``source``: an image path, a uint8 (H, W, 3) image, a tensor (1, 3, S, S) in [-1, 1], or a
    ``SourceState``. ``driving``: a video path (file, GIF or frame folder), a uint8 array
    (T, H, W, 3), a tensor (T, 3, S, S) in [-1, 1], or an iterable of uint8 frames. ``start``
    (relative mode only): ``"first"`` (default), ``"best"`` or a frame index; ``"best"`` and an
    index read the driving video twice, so a one-shot iterator is refused for them. ``edit``: M
    per-direction offsets (a sequence, tensor, or ``{index: value}``) added to the source's
    magnitudes. ``precision``: ``"auto"`` (bfloat16 autocast where the device computes bf16
    natively, else float32), ``"float32"`` or ``"bfloat16"`` (preview quality; on a device that
    would emulate it, float32 with a ``PrecisionWarning``; see ``liaviz.precision``). ``mute``
    (1-based directions whose driving motion is not transferred) and ``motion_scale`` are the
    motion mixer (see the module notes). Bad arguments raise here, before the first frame is
    asked for.
    """
    batches = animate_batches(
        model, source, driving, mode, start, batch_size, edit, crop, precision, progress,
        mute=mute, motion_scale=motion_scale,
    )  # fmt: skip
    return (frame for batch in batches for frame in batch.frames())


def animate_batches(
    model: LIA,
    source,
    driving,
    mode: Mode = "relative",
    start: Start | None = None,
    batch_size: int | None = None,
    edit=None,
    crop: Crop = "center",
    precision: Precision = "auto",
    progress: bool = False,
    mute: Iterable[int] | None = None,
    motion_scale: float = 1.0,
) -> Iterator[AnimatedBatch]:
    """Like ``animate`` but yields ``AnimatedBatch``es: float outputs with their driving frames."""
    if mode not in ("relative", "absolute"):
        raise AnimateError(f"mode must be 'relative' or 'absolute', got {mode!r}")
    if start is None:
        start = "first"
    if mode == "absolute" and start != "first":
        raise AnimateError("start applies to relative mode only (absolute mode has no start frame)")
    if not (start in ("first", "best") or (isinstance(start, int) and not isinstance(start, bool))):
        raise AnimateError(f"start must be 'first', 'best' or a frame index, got {start!r}")
    batch_size = batch_size or default_batch_size(model)
    if batch_size < 1:
        raise AnimateError(f"batch size must be at least 1, got {batch_size}")
    device = next(model.parameters()).device
    ctx = _Context(device, resolve_precision(precision, device))
    source = _source_input(model, source, crop)
    edit = parse_edit(model, edit)
    gains = mixer_gains(model.config.motion_dim, mute, motion_scale)
    if gains is not None and not model.config.motion_dictionary:
        raise AnimateError("mute and motion_scale need a motion dictionary; this model has none")
    drive = DrivingVideo(driving, model.config.size, crop)
    if start != "first" and not drive.reiterable:
        raise AnimateError(
            f"start={start!r} reads the driving video twice; pass a path or an array, not a "
            "one-shot iterator"
        )
    if isinstance(start, int) and drive.n_frames is not None and not 0 <= start < drive.n_frames:
        raise AnimateError(
            f"start frame {start} is outside the driving video ({drive.n_frames} frames)"
        )
    if mode == "relative" and drive.n_frames == 1:
        raise AnimateError(_ONE_FRAME.format(drive.name))
    run = _one_pass if mode == "absolute" or start == "first" else _two_pass
    return run(model, source, edit, drive, mode, start, batch_size, ctx, progress, gains)


_ONE_FRAME = (
    "{}: the driving video has only one frame; relative mode animates the motion between "
    "frames (use absolute mode, or a longer video)"
)


@dataclass(frozen=True)
class _Context:
    """Where and how the model runs; ``ctx()`` wraps each model call (``precision.inference``)."""

    device: torch.device
    precision: Resolved

    def __call__(self):
        return inference(self.device, self.precision)


def _encode(model, source, edit, ctx):
    with ctx():
        state = model.encode_source(source) if isinstance(source, torch.Tensor) else source
        return _apply_edit(model, state, edit)


def _one_pass(
    model, source, edit, drive, mode, start, batch_size, ctx, progress, gains=None
) -> Iterator[AnimatedBatch]:
    """Read, encode and decode each batch once; the start frame is the first one."""
    state, offset = _encode(model, source, edit, ctx)
    if gains is not None:
        gains = gains.to(ctx.device)
        shift = 0 if edit is None else edit.to(ctx.device)[None]
    bar = _bar(progress, drive.n_frames, "animating")
    alpha_start = None
    index = 0
    try:
        for frames_u8, frames in drive.batches(batch_size):
            if mode == "relative" and drive.at_least < 2:
                raise AnimateError(_ONE_FRAME.format(drive.name))
            with ctx():
                alpha = model.encode_motion(frames.to(ctx.device))
                if mode == "absolute" and gains is not None:
                    # the edit moves the driving magnitudes too, as ``offset`` does below
                    z = model.absolute_latent(state, alpha + shift, gains)
                elif mode == "absolute":
                    z = model.absolute_latent(state, alpha)
                    if offset is not None:
                        z = z + offset
                else:
                    if alpha_start is None:
                        alpha_start = alpha[:1]
                    z = model.relative_latent(state, alpha, alpha_start, gains)
                out = model.decode(state, z).float().cpu()
            yield AnimatedBatch(index, out, frames_u8)
            index += len(frames)
            bar.update(len(frames))
    finally:
        bar.close()


def _two_pass(
    model, source, edit, drive, mode, start, batch_size, ctx, progress, gains=None
) -> Iterator[AnimatedBatch]:
    """Pass 1 encodes every frame's magnitudes (T x M floats); pass 2 re-reads the frames only
    to return them alongside the outputs and decodes from the stored magnitudes."""
    state, _ = _encode(model, source, edit, ctx)
    alphas = motion_codes(
        model, drive, batch_size, progress=progress, desc="reading motion", precision=ctx.precision
    )
    if len(alphas) < 2:
        raise AnimateError(_ONE_FRAME.format(drive.name))
    if start == "best":
        index = best_start_frame(state.alpha, alphas)
    else:
        index = int(start)
        if not 0 <= index < len(alphas):
            raise AnimateError(
                f"start frame {index} is outside the driving video ({len(alphas)} frames)"
            )
    alpha_start = alphas[index : index + 1]
    bar = _bar(progress, len(alphas), "animating")
    first = 0
    try:
        for frames_u8, _ in drive.batches(batch_size, tensors=False):
            alpha = alphas[first : first + len(frames_u8)]
            if len(alpha) != len(frames_u8):
                raise MediaError(f"{drive.name}: the video changed between the two reads")
            with ctx():
                z = model.relative_latent(
                    state, alpha, alpha_start, None if gains is None else gains.to(ctx.device)
                )
                out = model.decode(state, z).float().cpu()
            yield AnimatedBatch(first, out, frames_u8)
            first += len(frames_u8)
            bar.update(len(frames_u8))
    finally:
        bar.close()


def best_start_frame(source_alpha: torch.Tensor, alphas: torch.Tensor) -> int:
    """Index of the driving frame whose magnitudes are nearest the source's: argmin ||A_t - A_s||.
    ``source_alpha`` (1, M) or (M,), ``alphas`` (T, M)."""
    d = (alphas.float() - source_alpha.reshape(1, -1).float()).norm(dim=1)
    return int(torch.argmin(d))


def motion_codes(
    model: LIA,
    driving,
    batch_size: int | None = None,
    crop: Crop = "center",
    progress: bool = False,
    desc: str = "encoding motion",
    precision: Precision = "auto",
) -> torch.Tensor:
    """Motion magnitudes A_t of every driving frame, (T, M) float32 on the model's device.

    Streams the video; only the (T, M) result is kept."""
    drive = (
        driving
        if isinstance(driving, DrivingVideo)
        else DrivingVideo(driving, model.config.size, crop)
    )
    device = next(model.parameters()).device
    ctx = _Context(device, resolve_precision(precision, device))
    batch_size = batch_size or default_batch_size(model)
    out = []
    bar = _bar(progress, drive.n_frames, desc)
    try:
        for _, frames in drive.batches(batch_size):
            with ctx():
                out.append(model.encode_motion(frames.to(ctx.device)).float())
            bar.update(len(frames))
    finally:
        bar.close()
    return torch.cat(out)


def parse_edit(model: LIA, edit) -> torch.Tensor | None:
    """An edit as a (M,) float tensor: from a sequence/array/tensor of M values, or a mapping
    ``{direction index: offset}`` (the others stay 0). None means no edit."""
    if edit is None:
        return None
    m = model.config.motion_dim
    if isinstance(edit, Mapping):
        e = torch.zeros(m)
        for key, value in edit.items():
            i = int(key)
            if not 0 <= i < m:
                raise AnimateError(
                    f"edit direction {i} does not exist (this model has {m}: 0-{m - 1})"
                )
            e[i] = float(value)
        return e
    e = torch.as_tensor(np.asarray(edit, dtype=np.float32)).flatten()
    if e.numel() != m:
        raise AnimateError(f"edit needs {m} values (one per direction), got {e.numel()}")
    if not torch.isfinite(e).all():
        raise AnimateError("edit values must be finite numbers")
    return e


def _apply_edit(model: LIA, state: SourceState, edit) -> tuple[SourceState, torch.Tensor | None]:
    """The edited source (A_s + e) and, for absolute mode, the latent offset w(e): eq. 11 drops
    A_s, so there the edit is added to the code directly, z = z_{s->r} + w_{r->t} + w(e)."""
    e = parse_edit(model, edit)
    if e is None:
        return state, None
    e = e.to(state.alpha.device)[None]
    edited = SourceState(state.latent, state.alpha + e.to(state.alpha.dtype), state.features)
    return edited, model.motion_path(e).to(state.latent.dtype)


def _source_input(model: LIA, source, crop: Crop) -> torch.Tensor | SourceState:
    """The source as a (1, 3, S, S) tensor on the model's device (or a given SourceState)."""
    device = next(model.parameters()).device
    if isinstance(source, SourceState):
        if source.batch_size != 1:
            raise AnimateError(f"expected one source, got a batch of {source.batch_size}")
        return source.to(device)
    size = model.config.size
    if isinstance(source, torch.Tensor):
        x = source if source.dim() == 4 else source.unsqueeze(0)
        if tuple(x.shape) != (1, 3, size, size):
            raise AnimateError(
                f"source tensor must be (1, 3, {size}, {size}), got {tuple(source.shape)}"
            )
    else:
        if isinstance(source, (str, os.PathLike)):
            source = read_image(source)
        image = np.asarray(source)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise AnimateError(
                f"source must be a uint8 (H, W, 3) image, got {image.dtype} {image.shape}"
            )
        x = to_tensor(prepare(image, size, crop))
    return x.to(device)


class DrivingVideo:
    """A driving video from a path, an array/tensor of frames, or an iterable of uint8 frames,
    read in batches prepared to the model size."""

    def __init__(self, driving, size: int, crop: Crop = "center") -> None:
        self.size = size
        self.crop = crop
        self.fps: float | None = None
        self.n_frames: int | None = None
        self.at_least = 0
        self._source = driving
        if isinstance(driving, (str, os.PathLike)):
            info = video_info(driving)
            self.fps, self.n_frames = info.fps, info.n_frames
            self.name = str(driving)
            self.reiterable = True
        elif isinstance(driving, torch.Tensor):
            if driving.dim() != 4 or tuple(driving.shape[1:]) != (3, size, size):
                raise AnimateError(
                    f"driving tensor must be (T, 3, {size}, {size}), got {tuple(driving.shape)}"
                )
            self.n_frames, self.name, self.reiterable = driving.shape[0], "driving tensor", True
        elif isinstance(driving, np.ndarray):
            if driving.dtype != np.uint8 or driving.ndim != 4 or driving.shape[3] != 3:
                raise AnimateError(
                    f"driving array must be uint8 (T, H, W, 3), got {driving.dtype} {driving.shape}"
                )
            self.n_frames, self.name, self.reiterable = driving.shape[0], "driving frames", True
        elif isinstance(driving, Sequence):
            self.n_frames, self.name, self.reiterable = len(driving), "driving frames", True
        elif isinstance(driving, Iterable):
            self.name, self.reiterable = "driving frames", False
            self._used = False
        else:
            raise AnimateError(f"cannot read driving frames from a {type(driving).__name__}")
        if self.n_frames == 0:
            raise MediaError(f"{self.name}: video has no frames")

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
                raise AnimateError("the driving iterator was already consumed")
            self._used = True
        frames = iter_video(src) if isinstance(src, (str, os.PathLike)) else iter(src)
        head = list(islice(frames, max(batch_size, 2)))
        if not head:
            raise MediaError(f"{self.name}: video has no frames")
        self.at_least = min(2, len(head))
        stream = chain(head, frames)
        del head
        while chunk := [self._prepare(f) for f in islice(stream, batch_size)]:
            u8 = np.stack(chunk)
            yield u8, (to_tensor(u8) if tensors else None)

    def _prepare(self, frame) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise AnimateError(
                f"driving frames must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}"
            )
        return prepare(frame, self.size, self.crop)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(progress: bool, total: int | None, desc: str):
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True)


__all__ = [
    "AnimateError",
    "AnimatedBatch",
    "DrivingVideo",
    "animate",
    "animate_batches",
    "best_start_frame",
    "default_batch_size",
    "mixer_gains",
    "motion_codes",
    "parse_edit",
]
