"""Same-identity reconstruction, the paper's Table 1 protocol.

For each test clip (FOMM layout: ``ROOT/test/<clip>/`` holding frames, or ``ROOT/test/<clip>.mp4``)
the first frame is the source and every frame, the first included, is driving, in absolute mode
(eq. 11): the model must rebuild each frame of the clip from the first one. As in LIA's official
evaluation:

- L1 = mean |x_rec - x| on images mapped to [0, 1], i.e. mean |0.5 * (clamp(y, -1, 1) - x)| on
  [-1, 1] tensors, over every pixel and frame of a clip; the overall score is the mean over clips.
- LPIPS (AlexNet, v0.1) between each frame and its clamped reconstruction, averaged per clip, then
  over clips. It is computed only when the user supplies the LPIPS weights as local files
  (``liaviz.pipelines.lpips``); otherwise the report says it was not computed and why.

Frames are brought to the model size with ``crop="none"`` by default: the official evaluation
resizes each frame to (size, size) without cropping.
"""

from __future__ import annotations

import csv
import io as _io
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import chain, islice
from pathlib import Path

import numpy as np
import torch

from ..analysis.transfer import reconstruct
from ..data.fomm import Clip, scan_split
from ..errors import UserError
from ..io import Crop, MediaError, VideoWriter, iter_video, video_info
from ..io.atomic import check_output_folder, write_json, write_text
from ..nn import LIA
from ..progress import progress_bar
from ..runtime.device import inference
from .animate import animate_batches
from .lpips import LPIPS

LPIPS_NOT_GIVEN = (
    "not computed: no LPIPS weights given (pass the AlexNet and LPIPS v0.1 linear weights as "
    "local files with --lpips; liaviz downloads nothing)"
)


class EvaluationError(UserError, ValueError):
    """A test split that cannot be evaluated (missing folder, no readable clip)."""


@dataclass
class ClipResult:
    name: str
    n_frames: int
    l1: float
    lpips: float | None
    seconds: float


@dataclass
class EvaluationReport:
    """Per-clip and overall scores. ``lpips`` is None when it was not computed; ``lpips_note``
    then says why."""

    clips: list[ClipResult]
    l1: float
    lpips: float | None
    lpips_note: str
    skipped: list[dict[str, str]] = field(default_factory=list)
    protocol: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "overall": {
                "l1": self.l1,
                "lpips": self.lpips,
                "lpips_note": self.lpips_note,
                "clips": len(self.clips),
                "frames": sum(c.n_frames for c in self.clips),
            },
            "clips": [asdict(c) for c in self.clips],
            "skipped": self.skipped,
        }

    def write_json(self, path: str | os.PathLike) -> Path:
        return write_json(path, self.to_dict(), MediaError)

    def write_csv(self, path: str | os.PathLike) -> Path:
        buf = _io.StringIO()
        w = csv.writer(buf)
        w.writerow(["clip", "frames", "l1", "lpips", "seconds"])
        for c in self.clips:
            w.writerow([c.name, c.n_frames, f"{c.l1:.6f}", _fmt(c.lpips), f"{c.seconds:.2f}"])
        w.writerow(["OVERALL", sum(c.n_frames for c in self.clips), f"{self.l1:.6f}",
                    _fmt(self.lpips), ""])  # fmt: skip
        return write_text(path, buf.getvalue(), MediaError)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.6f}"


def reconstruction_l1(model: LIA, frames: np.ndarray) -> float:
    """Same-identity reconstruction L1 of one in-memory clip, uint8 (T, S, S, 3) at the model's
    size: first frame as source, every frame driving, absolute mode, images in [0, 1]."""
    x, recon = reconstruct(model, frames)
    return float((0.5 * (recon.clamp(-1.0, 1.0) - x)).abs().mean())


def copy_source_l1(frames: np.ndarray) -> float:
    """The trivial baseline of the same protocol: every frame predicted by the first one."""
    x = frames.astype(np.float64) / 255.0
    return float(np.abs(x - x[:1]).mean())


def find_clips(
    root: str | os.PathLike, dump_dir: str | os.PathLike | None = None
) -> tuple[list[Clip], list[dict[str, str]]]:
    """The clips of a FOMM-layout test split (``data.fomm.scan_split``: sub-folders of frames
    and video files, one frame at least) and those skipped, as ``{"clip", "error"}``; with
    ``dump_dir``, its existence is checked too. Cheap: a command line checks its inputs with it
    before loading a model and hands the result to ``evaluate``."""
    skipped: list[dict[str, str]] = []

    def skip(path: Path, why: str) -> None:
        warnings.warn(f"skipping {path.name}: {why}", stacklevel=3)
        skipped.append({"clip": path.name, "error": why})

    clips = scan_split(Path(root), min_frames=1, on_skip=skip, error=EvaluationError)
    if dump_dir is not None:
        check_output_folder(_dump_path(dump_dir, clips[0].path), EvaluationError)
    return clips, skipped


def check_evaluate_inputs(
    root: str | os.PathLike,
    dump_dir: str | os.PathLike | None = None,
    batch_size: int | None = None,
    max_clips: int | None = None,
    max_frames: int | None = None,
) -> tuple[list[Clip], list[dict[str, str]]]:
    """``evaluate``'s checks, which need no model: the counts, then ``find_clips``."""
    for name, value in (("batch size", batch_size), ("max clips", max_clips),
                        ("max frames", max_frames)):  # fmt: skip
        if value is not None and value < 1:
            raise EvaluationError(f"{name} must be at least 1, got {value}")
    return find_clips(root, dump_dir)


def _dump_path(dump_dir: str | os.PathLike, clip: Path) -> Path:
    return Path(dump_dir) / f"{clip.stem}.mp4"


def evaluate_clip(
    model: LIA,
    clip: str | os.PathLike,
    lpips: LPIPS | None = None,
    batch_size: int | None = None,
    crop: Crop = "none",
    max_frames: int | None = None,
    dump: str | os.PathLike | None = None,
    on_frames: Callable[[int], None] | None = None,
) -> ClipResult:
    """Reconstruct one clip from its first frame (absolute mode) and score it.

    ``dump``: write the clip as a video, ground truth | reconstruction side by side.
    """
    clip = Path(clip)
    t0 = time.perf_counter()
    frames: Iterator[np.ndarray] = iter_video(clip)
    if max_frames is not None:
        frames = islice(frames, max_frames)
    first = next(frames)
    driving = chain([first], frames)
    abs_sum = 0.0
    values = 0
    lpips_sum = 0.0
    n = 0
    writer = None
    if dump is not None:
        fps = video_info(clip).rate or 25
        writer = VideoWriter(dump, fps)
        writer.open()
    try:
        for batch in animate_batches(
            model, first, driving, mode="absolute", batch_size=batch_size, crop=crop
        ):
            real = torch.from_numpy(batch.driving).permute(0, 3, 1, 2).float() / 127.5 - 1.0
            recon = batch.images.clamp(-1.0, 1.0)
            diff = (0.5 * (recon - real)).abs()
            abs_sum += float(diff.sum(dtype=torch.float64))
            values += diff.numel()
            if lpips is not None:
                device = next(lpips.parameters()).device
                with inference(lpips, "float32"):
                    d = lpips(real.to(device), recon.to(device))
                lpips_sum += float(d.sum(dtype=torch.float64))
            if writer is not None:
                for gt, out in zip(batch.driving, batch.frames(), strict=True):
                    writer.write(np.concatenate([gt, out], axis=1))
            n += len(batch)
            if on_frames is not None:
                on_frames(len(batch))
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    return ClipResult(
        name=clip.name,
        n_frames=n,
        l1=abs_sum / values,
        lpips=lpips_sum / n if lpips is not None else None,
        seconds=round(time.perf_counter() - t0, 3),
    )


def evaluate(
    model: LIA,
    root: str | os.PathLike,
    lpips: LPIPS | None = None,
    lpips_note: str | None = None,
    batch_size: int | None = None,
    crop: Crop = "none",
    max_clips: int | None = None,
    max_frames: int | None = None,
    dump_dir: str | os.PathLike | None = None,
    progress: bool = False,
    split: tuple[Sequence[Clip], list[dict[str, str]]] | None = None,
) -> EvaluationReport:
    """Evaluate every clip of a test split. Clips that cannot be read are skipped with a warning
    and listed in ``report.skipped``; if none can be read, ``EvaluationError``. ``split``: what
    ``check_evaluate_inputs(root, dump_dir, ...)`` returned, when the caller already has it."""
    if split is None:
        split = check_evaluate_inputs(root, dump_dir, batch_size, max_clips, max_frames)
    clips, skipped = split
    clips, skipped = list(clips)[:max_clips], list(skipped)
    results: list[ClipResult] = []
    total = sum(min(c.n_frames, max_frames or c.n_frames) for c in clips)
    with progress_bar(enabled=progress, total=total, desc="evaluating") as bar:
        for i, clip in enumerate(clips):
            dump = _dump_path(dump_dir, clip.path) if dump_dir is not None else None
            bar.set_postfix(clip=f"{i + 1}/{len(clips)}")
            try:
                results.append(
                    evaluate_clip(
                        model, clip.path, lpips, batch_size, crop, max_frames, dump,
                        on_frames=bar.update,
                    )
                )  # fmt: skip
            except MediaError as e:
                warnings.warn(f"skipping {clip.path.name}: {e}", stacklevel=2)
                skipped.append({"clip": clip.path.name, "error": str(e)})
    if not results:  # say why, as the "skipped" lines would have (the first clip's reason)
        why = f"; {skipped[0]['clip']}: {skipped[0]['error']}" if skipped else ""
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        raise EvaluationError(f"{root}: none of the {len(clips)} clip(s) could be read{why}{more}")
    l1 = float(np.mean([r.l1 for r in results]))
    lp = float(np.mean([r.lpips for r in results])) if lpips is not None else None
    note = "computed (AlexNet, v0.1)" if lpips is not None else (lpips_note or LPIPS_NOT_GIVEN)
    protocol = {
        "data": str(root),
        "source": "first frame of each clip",
        "driving": "every frame of the clip, the first included",
        "mode": "absolute (eq. 11)",
        "l1": "mean |x_rec - x| on [0, 1] images, per clip over pixels and frames; overall = "
        "mean over clips",
        "lpips": "AlexNet v0.1 on [-1, 1] images, mean per clip, then over clips",
        "size": model.config.size,
        "crop": crop,
        "max_frames": max_frames,
    }
    return EvaluationReport(results, l1, lp, note, skipped, protocol)
