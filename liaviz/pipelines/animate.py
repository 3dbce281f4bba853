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

``edit`` moves the source along the directions before animating, A_s <- A_s + e (LIA-X's
edit-warp-render: align the source's pose or expression first, then animate). Its directions are
1-based, as everywhere (``{3: 1.5}`` or ``"3=1.5"`` moves along d3; ``liaviz.analysis.edits.parse_edit``).

The motion mixer transfers only the motion you want: ``mute`` lists directions (1-based, as in
the paper and ``liaviz directions``) whose driving motion is not transferred, so they keep the
source's own magnitudes; ``motion_scale`` multiplies the transferred motion. Both become the
per-direction ``gains`` of ``LIA.relative_latent`` / ``absolute_latent`` (``liaviz.analysis.mixer``).
Muting every direction freezes the animation on the source's reconstruction; no mute and scale 1
is the plain run, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ..analysis.edits import parse_edit
from ..analysis.mixer import check_motion_scale, mixer_gains
from ..errors import InputError
from ..io import Crop, MediaError, to_tensor, to_uint8
from ..nn import LIA, SourceState
from ..numeric import MAX_BATCH, integer
from ..progress import progress_bar
from ..runtime.device import Precision, frames_per_call, inference, model_device, resolve_precision
from ..runtime.driving import DrivingVideo, clip_magnitudes
from ..runtime.source import encode_source, source_crop, source_image

Mode = Literal["relative", "absolute"]
Start = Literal["first", "best"] | int


class AnimateError(InputError):
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


def animate(
    model: LIA,
    source,
    driving,
    mode: Mode = "relative",
    start: Start | None = None,
    batch_size: int | None = None,
    edit=None,
    crop: Crop = "auto",
    precision: Precision = "auto",
    progress: bool = False,
    mute: Iterable[int] | None = None,
    motion_scale: float = 1.0,
    driving_crop: Crop | None = None,
    paste_back: bool = False,
) -> Iterator[np.ndarray]:
    """Animate ``source`` with ``driving``; yields the output frames, uint8 (S, S, 3), in order.

    ``source``: an image path, a uint8 (H, W, 3) image, a tensor (1, 3, S, S) in [-1, 1], or a
    ``SourceState``. ``driving``: a video path (file, GIF or frame folder), a uint8 array
    (T, H, W, 3), a tensor (T, 3, S, S) in [-1, 1], or an iterable of uint8 frames. ``start``
    (relative mode only): ``"first"`` (default), ``"best"`` or a frame index; ``"best"`` and an
    index read the driving video twice, so a one-shot iterator is refused for them. ``edit``:
    offsets added to the source's magnitudes, as M values (a sequence or tensor), a mapping
    ``{direction: value}`` or text ``"3=1.5,7=-2"`` (directions 1-based). ``precision``:
    ``"auto"`` (bfloat16 autocast where the device computes bf16 natively, else float32),
    ``"float32"`` or ``"bfloat16"`` (preview quality; on a device that would emulate it, float32
    with a ``PrecisionWarning``; see ``liaviz.runtime.device``). ``mute`` (1-based directions whose
    driving motion is not transferred) and ``motion_scale`` are the motion mixer (see the module
    notes). ``crop`` (source and driving video) and ``driving_crop`` (the driving video, when
    given): ``"auto"`` (default) crops around the face (``liaviz.faces``: the source by the
    framing rule, the driving video at one fixed box per shot); ``"center"``, ``"pad"``,
    ``"none"`` take the frames whole. With ``paste_back`` and a source photo that was cropped,
    each frame is the whole photo with the animated face blended back in. Bad arguments raise
    here, before the first frame is asked for.
    """
    placed = None
    if paste_back and not isinstance(source, (torch.Tensor, SourceState)):
        photo = source_image(source)
        placed = source_crop(photo, model.config.size, crop)
        source = to_tensor(placed.crop)
    batches = animate_batches(
        model, source, driving, mode, start, batch_size, edit, crop, precision, progress,
        mute=mute, motion_scale=motion_scale, driving_crop=driving_crop,
    )  # fmt: skip
    frames = (frame for batch in batches for frame in batch.frames())
    if placed is None:
        return frames
    return (placed.paste(photo, frame) for frame in frames)


def animate_batches(
    model: LIA,
    source,
    driving,
    mode: Mode = "relative",
    start: Start | None = None,
    batch_size: int | None = None,
    edit=None,
    crop: Crop = "auto",
    precision: Precision = "auto",
    progress: bool = False,
    mute: Iterable[int] | None = None,
    motion_scale: float = 1.0,
    driving_crop: Crop | None = None,
) -> Iterator[AnimatedBatch]:
    """Like ``animate`` but yields ``AnimatedBatch``es: float outputs with their driving frames
    (``driving``: a ``DrivingVideo`` is taken as it is)."""
    if isinstance(driving, DrivingVideo):
        drive = driving
    else:
        drive = DrivingVideo(driving, model.config.size, driving_crop or crop)
    start = check_animate_inputs(mode, start, batch_size, motion_scale, drive.n_frames, drive.name)
    if start != "first" and not drive.reiterable:
        raise AnimateError(
            f"start={start!r} reads the driving video twice; pass a path or an array, not a "
            "one-shot iterator"
        )
    gains = mixer_gains(model.config.motion_dim, mute, motion_scale)
    if gains is not None and not model.config.motion_dictionary:
        raise AnimateError("mute and motion_scale need a motion dictionary; this model has none")
    edit = parse_edit(model, edit)
    device = model_device(model)
    run = _Run(
        model,
        device,
        batch_size or frames_per_call(model),
        resolve_precision(precision, device),
        progress,
        None if gains is None else gains.to(device),
    )
    source = encode_source(model, source, crop, run.precision)
    state, offset = _edited_source(model, source, edit, run.precision)
    if mode == "absolute":
        shift = 0 if edit is None else edit.to(device)[None]
        return _absolute(run, state, offset, shift, drive)
    if start == "first":
        return _relative_from_first(run, state, drive)
    return _relative_from(run, state, drive, start)


def check_animate_inputs(
    mode: Mode,
    start: Start | None = None,
    batch_size: int | None = None,
    motion_scale: float = 1.0,
    n_frames: int | None = None,
    name: str = "driving video",
) -> Start:
    """The checks that need no model, so a command line can make them before loading one;
    ``n_frames``: the length of the driving video (called ``name`` in messages) when known.
    Returns the start (None: ``"first"``)."""
    if mode not in ("relative", "absolute"):
        raise AnimateError(f"mode must be 'relative' or 'absolute', got {mode!r}")
    if start is None:
        start = "first"
    if mode == "absolute" and start != "first":
        raise AnimateError("start applies to relative mode only (absolute mode has no start frame)")
    if not (start in ("first", "best") or (isinstance(start, int) and not isinstance(start, bool))):
        raise AnimateError(f"start must be 'first', 'best' or a frame index, got {start!r}")
    if batch_size is not None:
        integer(batch_size, "batch size", 1, MAX_BATCH, AnimateError)
    if isinstance(start, int) and n_frames is not None and not 0 <= start < n_frames:
        raise AnimateError(f"start frame {start} is outside the driving video ({n_frames} frames)")
    if mode == "relative" and n_frames == 1:
        raise AnimateError(_ONE_FRAME.format(name))
    check_motion_scale(motion_scale)
    return start


_ONE_FRAME = (
    "{}: the driving video has only one frame; relative mode animates the motion between "
    "frames (use absolute mode, or a longer video)"
)


@dataclass(frozen=True)
class _Run:
    """How one animation runs the model."""

    model: LIA
    device: torch.device  # the model's
    batch_size: int  # frames per model call
    precision: str  # resolved: "float32" or "bfloat16"
    progress: bool  # show a progress bar
    gains: torch.Tensor | None  # the motion mixer's per-direction gains (M,), on the device

    def inference(self):
        """The context around each model call."""
        return inference(self.model, self.precision)

    def bar(self, total: int | None, desc: str = "animating"):
        return progress_bar(enabled=self.progress, total=total, desc=desc)


def _edited_source(
    model: LIA, state: SourceState, edit: torch.Tensor | None, precision: str
) -> tuple[SourceState, torch.Tensor | None]:
    """The edited source (A_s + e) and, for absolute mode, the latent offset w(e): eq. 11 drops
    A_s, so there the edit is added to the code directly, z = z_{s->r} + w_{r->t} + w(e)."""
    if edit is None:
        return state, None
    e = edit.to(state.alpha.device)[None]
    edited = SourceState(state.latent, state.alpha + e.to(state.alpha.dtype), state.features)
    with inference(model, precision):
        return edited, model.motion_path(e).to(state.latent.dtype)


def _absolute(run: _Run, state, offset, shift, drive: DrivingVideo) -> Iterator[AnimatedBatch]:
    """Eq. 11, one pass: each batch is read, encoded and decoded once."""
    model = run.model
    index = 0
    with run.bar(drive.n_frames) as bar:
        for frames_u8, frames in drive.batches(run.batch_size):
            with run.inference():
                alpha = model.encode_motion(frames.to(run.device))
                if run.gains is not None:
                    # the edit moves the driving magnitudes too, as ``offset`` does below
                    z = model.absolute_latent(state, alpha + shift, run.gains)
                else:
                    z = model.absolute_latent(state, alpha)
                    if offset is not None:
                        z = z + offset
                out = model.decode(state, z).float().cpu()
            yield AnimatedBatch(index, out, frames_u8)
            index += len(frames_u8)
            bar.update(len(frames_u8))


def _relative_from_first(run: _Run, state, drive: DrivingVideo) -> Iterator[AnimatedBatch]:
    """Eq. 12 from frame 0, one pass: the start's magnitudes come with the first batch."""
    model = run.model
    alpha_start = None
    index = 0
    with run.bar(drive.n_frames) as bar:
        for frames_u8, frames in drive.batches(run.batch_size):
            if drive.at_least < 2:
                raise AnimateError(_ONE_FRAME.format(drive.name))
            with run.inference():
                alpha = model.encode_motion(frames.to(run.device))
                if alpha_start is None:
                    alpha_start = alpha[:1]
                z = model.relative_latent(state, alpha, alpha_start, run.gains)
                out = model.decode(state, z).float().cpu()
            yield AnimatedBatch(index, out, frames_u8)
            index += len(frames_u8)
            bar.update(len(frames_u8))


def _relative_from(run: _Run, state, drive: DrivingVideo, start) -> Iterator[AnimatedBatch]:
    """Eq. 12 from a later frame, two passes: pass 1 encodes every frame's magnitudes (T x M
    floats); pass 2 re-reads the frames only to return them alongside the outputs and decodes
    from the stored magnitudes."""
    model = run.model
    alphas = clip_magnitudes(
        model, drive, batch_size=run.batch_size, precision=run.precision,
        progress=run.progress, desc="reading motion",
    ).to(run.device)  # fmt: skip
    if len(alphas) < 2:
        raise AnimateError(_ONE_FRAME.format(drive.name))
    index = best_start_frame(state.alpha, alphas) if start == "best" else int(start)
    if not 0 <= index < len(alphas):
        raise AnimateError(
            f"start frame {index} is outside the driving video ({len(alphas)} frames)"
        )
    alpha_start = alphas[index : index + 1]
    first = 0
    with run.bar(len(alphas)) as bar:
        for frames_u8, _ in drive.batches(run.batch_size, tensors=False):
            alpha = alphas[first : first + len(frames_u8)]
            if len(alpha) != len(frames_u8):
                raise MediaError(f"{drive.name}: the video changed between the two reads")
            with run.inference():
                z = model.relative_latent(state, alpha, alpha_start, run.gains)
                out = model.decode(state, z).float().cpu()
            yield AnimatedBatch(first, out, frames_u8)
            first += len(frames_u8)
            bar.update(len(frames_u8))


def best_start_frame(source_alpha: torch.Tensor, alphas: torch.Tensor) -> int:
    """Index of the driving frame whose magnitudes are nearest the source's: argmin ||A_t - A_s||.
    ``source_alpha`` (1, M) or (M,), ``alphas`` (T, M)."""
    d = (alphas.float() - source_alpha.reshape(1, -1).float()).norm(dim=1)
    return int(torch.argmin(d))


__all__ = [
    "AnimateError",
    "AnimatedBatch",
    "animate",
    "animate_batches",
    "best_start_frame",
    "check_animate_inputs",
]
