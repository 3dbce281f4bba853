"""Motion magnitudes A (N, M) of the frames of videos, where each came from, and how much each
direction is used. Encoding a clip's motion is ``liaviz.runtime.driving.clip_magnitudes``; this module
names and gathers the results."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..io import Crop, iter_video
from ..nn import LIA
from ..runtime.device import Precision, model_device
from ..runtime.driving import DrivingVideo, clip_magnitudes
from . import AnalysisError


@dataclass
class MagnitudeSet:
    """Motion magnitudes A (N, M) of the frames of one or more videos, with where each came from."""

    alpha: np.ndarray  # (N, M) float32
    video: np.ndarray  # (N,) index into ``names``
    frame: np.ndarray  # (N,) frame index within its video
    names: list[str]
    frames: np.ndarray | None = None  # (N, S, S, 3) uint8 model-size frames, when kept

    def __len__(self) -> int:
        return self.alpha.shape[0]

    @property
    def time(self) -> np.ndarray:
        """Each frame's position in its own video, 0 (first) to 1 (last)."""
        t = np.zeros(len(self), np.float32)
        for v in range(len(self.names)):
            sel = self.video == v
            last = self.frame[sel].max() if sel.any() else 0
            t[sel] = self.frame[sel] / max(last, 1)
        return t

    def of(self, name: str) -> np.ndarray:
        """The magnitudes of one video, in frame order."""
        if name not in self.names:
            raise AnalysisError(f"no video named {name!r} (have {', '.join(self.names)})")
        return self.alpha[self.video == self.names.index(name)]


def model_frames(
    model: LIA, frames, crop: Crop = "center", max_frames: int | None = None
) -> np.ndarray:
    """Driving frames (a path, uint8 (T, H, W, 3), an iterable of uint8 frames, or a tensor
    (T, 3, S, S) in [-1, 1]) as the model sees them, uint8 (T, S, S, 3); the first
    ``max_frames`` only, when given (the rest is not read)."""
    drive = DrivingVideo(frames, model.config.size, crop)
    kept, n = [], 0
    for u8, _ in drive.batches(16, tensors=False):
        kept.append(u8)
        n += len(u8)
        if max_frames is not None and n >= max_frames:
            break
    if not kept:
        raise AnalysisError("the video has no frames")
    return np.concatenate(kept)[:max_frames]


def frame_magnitudes(
    model: LIA,
    frames,
    batch_size: int = 16,
    crop: Crop = "center",
    keep_frames: bool = False,
    progress: bool = False,
    precision: Precision | None = "float32",
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Magnitudes A (T, M) of driving frames (what ``DrivingVideo`` reads: a path, uint8
    (T, H, W, 3), an iterable of uint8 frames, or a tensor (T, 3, S, S) in [-1, 1]); with
    ``keep_frames`` also the model-size frames (T, S, S, 3) uint8. Exact float32 unless
    ``precision`` says otherwise."""
    result = clip_magnitudes(
        model,
        frames,
        batch_size=batch_size,
        precision=precision,
        progress=progress,
        crop=crop,
        keep_frames=keep_frames,
        desc="magnitudes",
    )
    if keep_frames:
        alpha, u8 = result
        return alpha.numpy(), u8
    return result.numpy()


def _take(frames: Iterable[np.ndarray], stride: int, max_frames: int | None):
    n = 0
    for i, frame in enumerate(frames):
        if i % stride:
            continue
        yield frame
        n += 1
        if max_frames is not None and n >= max_frames:
            return


def video_magnitudes(
    model: LIA,
    videos,
    stride: int = 1,
    max_frames: int | None = None,
    keep_frames: bool = False,
    batch_size: int = 16,
    crop: Crop = "center",
    progress: bool = False,
) -> MagnitudeSet:
    """Magnitudes of every ``stride``-th frame (up to ``max_frames`` per video) of several videos.

    ``videos``: a mapping name -> video, or a sequence of videos (paths are named by their stem).
    A video is a path, uint8 (T, H, W, 3) array, or iterable of uint8 frames.
    """
    if stride < 1:
        raise AnalysisError(f"stride must be >= 1, got {stride}")
    if isinstance(videos, Mapping):
        items = list(videos.items())
    elif isinstance(videos, (str, os.PathLike)) or (
        isinstance(videos, np.ndarray) and videos.ndim == 4
    ):
        items = [(_video_name(videos, 0), videos)]
    else:
        items = [(_video_name(v, i), v) for i, v in enumerate(videos)]
    if not items:
        raise AnalysisError("no videos given")
    alphas, vids, idx, kept = [], [], [], []
    for v, (_, video) in enumerate(items):
        if isinstance(video, (str, os.PathLike)):
            frames = _take(iter_video(video), stride, max_frames)
        elif isinstance(video, (np.ndarray, torch.Tensor, Sequence)):
            frames = video[::stride][:max_frames]
        else:
            frames = _take(video, stride, max_frames)
        alpha, f = frame_magnitudes(model, frames, batch_size, crop, True, progress)
        alphas.append(alpha)
        vids.append(np.full(len(alpha), v))
        idx.append(np.arange(len(alpha)) * stride)
        if keep_frames:
            kept.append(f)
    return MagnitudeSet(
        np.concatenate(alphas).astype(np.float32),
        np.concatenate(vids),
        np.concatenate(idx),
        [str(name) for name, _ in items],
        np.concatenate(kept) if keep_frames else None,
    )


def split_videos(folder: str | os.PathLike, limit: int | None = None) -> dict[str, Path]:
    """The clips of a dataset split in the FOMM layout (``ROOT/test``: frame folders or video
    files) as ``{name: path}``, ready for ``video_magnitudes`` (e.g. to order the explorer's
    sliders by a whole test split). ``limit`` keeps the first clips, in name order."""
    from ..data.fomm import scan_split

    clips = scan_split(Path(folder))[:limit]
    return {(c.path.name if c.frames else c.path.stem): c.path for c in clips}


def _video_name(video, i: int) -> str:
    if isinstance(video, (str, os.PathLike)):
        return Path(video).stem
    return f"video {i + 1}"


def alpha_of(alpha) -> np.ndarray:
    """Magnitudes (N, M) as float64, from an array or a ``MagnitudeSet``; at least 2 frames."""
    a = alpha.alpha if isinstance(alpha, MagnitudeSet) else np.asarray(alpha, np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise AnalysisError(f"need magnitudes (N, M) of at least 2 frames, got shape {a.shape}")
    return np.asarray(a, np.float64)


def direction_variance(alpha) -> np.ndarray:
    """Variance of each magnitude a_i over the frames: how much each d_i is used. (M,)"""
    return alpha_of(alpha).var(axis=0)


def order_by_variance(alpha) -> np.ndarray:
    """Direction indices, the most varying first (ties keep index order): a slider order."""
    return np.argsort(-direction_variance(alpha), kind="stable")


def encoder_gain(model: LIA) -> np.ndarray:
    """How strongly the encoder's motion head reads each magnitude: the norm of row i of the
    linear map latent -> A (M,). A data-free importance, for when no clips are given."""
    fc = model.enc.fc
    d = model.config.latent_dim
    with torch.inference_mode():
        x = torch.cat([torch.zeros(1, d), torch.eye(d)]).to(model_device(model))
        out = fc(x).float()
        weight = out[1:] - out[:1]  # (D, M): the map without its bias
    return weight.norm(dim=0).cpu().numpy().astype(np.float64)


def importance(model: LIA, alpha=None) -> tuple[np.ndarray, str]:
    """How much each direction matters (M,), to order sliders, and by which measure: the spread
    sigma of each magnitude over frames (``alpha``, N >= 2), else the encoder's gain, else
    zeros (``"none"``: no motion dictionary, index order)."""
    if alpha is not None and len(alpha) >= 2:
        return np.sqrt(direction_variance(alpha)), "σ"
    gain = encoder_gain(model)
    if gain.shape != (model.config.motion_dim,):
        return np.zeros(model.config.motion_dim), "none"
    return gain, "gain"


@dataclass(frozen=True)
class Ranking:
    """One importance order of the directions, measured once and shown alike by every view
    (explorer sliders, mixer toggles, sweep grids, PCA bars, the demo page): ``values`` (M,)
    by the measure ``kind`` ("σ", "gain" or "none"), over what ``over`` says."""

    values: np.ndarray
    kind: str
    over: str

    @property
    def order(self) -> list[int]:
        """Direction indices (0-based), the most important first; ties keep index order."""
        if self.kind == "none":
            return list(range(len(self.values)))
        return [int(i) for i in np.argsort(-self.values, kind="stable")]

    @property
    def label(self) -> str:
        """What the order means, for a caption: the measure and what it was computed over."""
        if self.kind == "σ":
            return f"importance: spread σ of each a_i over {self.over}"
        if self.kind == "gain":
            return "importance: encoder gain per direction (no clips given)"
        return "order: d1..dM (this model has no motion dictionary)"


def describe_frames(alpha) -> str:
    """What a set of magnitudes covers, for labels: "2 clips (96 frames: a, b)" or "40 frames"."""
    if isinstance(alpha, MagnitudeSet):
        n = len(alpha.names)
        clips = "1 clip" if n == 1 else f"{n} clips"
        return f"{clips} ({len(alpha)} frames: {', '.join(alpha.names)})"
    return f"{len(alpha)} frames"


def rank_directions(model: LIA, alpha=None, over: str | None = None) -> Ranking:
    """The importance order every view shows (``importance`` of ``alpha``, a ``MagnitudeSet`` or
    (N, M) magnitudes, or of the encoder without clips); ``over`` overrides the description of
    what it was computed over."""
    values, kind = importance(model, alpha)
    if kind != "σ":
        over = ""
    elif over is None:
        over = describe_frames(alpha)
    return Ranking(np.asarray(values, np.float64), kind, over)
