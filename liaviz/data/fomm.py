"""FOMM-layout video datasets for training: pairs of frames from one clip.

Layout (as in First Order Motion Model, VoxCeleb, TaiChiHD, TED-talk)::

    ROOT/train/<clip>/0000.png ...     a folder of frames (png/jpg; other files are ignored)
    ROOT/train/<clip>.mp4              or one video file per clip (mp4, mov, gif, ...)
    ROOT/test/...                      the same for the test split

Sampling is a pure function of ``(seed, index)``: item ``k`` is clip ``perm_e[k mod n]`` of a
per-epoch permutation (``e = k // n``), and its frame pair and augmentation come from a random
generator seeded with ``(seed, k)``. Nothing depends on which worker process loads an item or on
what it loaded before, so DataLoader workers need no seeding and a resumed run continues with
exactly the samples it would have seen. ``RankSampler`` hands each process its share.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..errors import UserError
from ..io import (
    VIDEO_SUFFIXES,
    MediaError,
    frame_files,
    iter_video,
    prepare,
    read_image,
    video_info,
)

SPLITS = ("train", "test")  # the split folders of the layout, in this order


class DatasetError(UserError):
    """A dataset folder that cannot be trained on (missing, or no usable clip)."""


@dataclass(frozen=True)
class Clip:
    """One training clip: a frame folder (``frames`` set) or a video file (``frames`` None)."""

    path: Path
    n_frames: int
    frames: tuple[Path, ...] | None = None


def scan_split(
    folder: str | os.PathLike,
    min_frames: int = 2,
    on_skip: Callable[[Path, str], None] | None = None,
    error: type[UserError] = DatasetError,
) -> list[Clip]:
    """Index the clips of one split folder: its sub-folders (frames: png/jpg, other files are
    ignored) and video files (mp4, mov, gif, ...), in name order; hidden entries and other files
    are ignored. A clip with fewer than ``min_frames`` readable frames (2 for training pairs, 1
    for evaluation) is skipped, passed to ``on_skip(path, why)`` (default: a warning naming it).
    A missing folder, or one left with no clip, is an ``error``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise error(f"{folder}: no such folder (expected a FOMM layout ROOT/train, ROOT/test)")
    warn = on_skip or (lambda path, why: warnings.warn(f"skipping {path}: {why}", stacklevel=3))
    skipped: list[str] = []  # the reasons, for the error when no clip is left

    def skip(path: Path, why: str) -> None:
        skipped.append(f"{path.name}: {why}")
        warn(path, why)

    clips = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            frames = tuple(frame_files(entry))
            clip = Clip(entry, len(frames), frames)
        elif entry.suffix.lower() in VIDEO_SUFFIXES:
            try:
                clip = Clip(entry, video_info(entry).n_frames)
            except MediaError as e:
                skip(entry, f"unreadable: {e}")
                continue
        else:
            continue
        if clip.n_frames < min_frames:
            skip(entry, f"fewer than {min_frames} readable frame(s) ({clip.n_frames})")
            continue
        clips.append(clip)
    if not clips:
        why = f"; skipped {skipped[0]}" if skipped else ""
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        raise error(
            f"{folder}: no usable clips (expected sub-folders of png/jpg frames or video files "
            f"{', '.join(VIDEO_SUFFIXES)}, each with at least {min_frames} frame(s)){why}{more}"
        )
    return clips


def _warn_skip(path: Path, why: str) -> None:
    warnings.warn(f"skipping {path}: fewer than two readable frames ({why})", stacklevel=3)


class FOMMDataset(Dataset):
    """Pairs (source, driving) of two distinct frames of one clip, as float32 (3, S, S) in [-1, 1].

    ``len(ds)`` is one epoch (each clip once), but any index ``k >= 0`` is valid and
    deterministic: ``ds[k]`` is the k-th sample of an endless stream (see the module notes).

    Args:
        root: dataset root holding ``split`` (``ROOT/train``, ``ROOT/test``).
        size: model resolution; frames are centre-cropped to a square and resized (bilinear).
        flip: mirror both frames horizontally with probability 1/2 (same for both).
        jitter: colour jitter strength; brightness, contrast and saturation factors are drawn
            from [1 - j, 1 + j], hue shifts from [-j, j] (turns), applied in random order, the
            same for both frames (TaiChi and TED use 0.1).
        near_pairs: the share of pairs whose driving frame lies at most ``near_gap`` frames from
            the source (the rest are two distinct frames anywhere in the clip, as in the paper).
            Near frames differ mostly by what changes fast (blinks, mouth, gaze), so these pairs
            give small, fast motions a larger share of the loss than the head's slow drift.
        near_gap: the largest frame distance of a near pair.
        seed: the stream's seed.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        size: int = 256,
        flip: bool = False,
        jitter: float = 0.0,
        seed: int = 0,
        near_pairs: float = 0.0,
        near_gap: int = 4,
    ) -> None:
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        if not 0.0 <= near_pairs <= 1.0:
            raise ValueError(f"near_pairs must be in [0, 1], got {near_pairs}")
        if near_gap < 1:
            raise ValueError(f"near_gap must be >= 1, got {near_gap}")
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: dataset folder not found")
        self.folder = self.root / split
        self.clips = scan_split(self.folder)
        self.size = size
        self.flip = flip
        self.jitter = jitter
        self.near_pairs = near_pairs
        self.near_gap = near_gap
        self.seed = seed
        # per-process memory of what turned out unreadable; only saves work, never changes
        # which sample an index gives
        self._bad_clips: set[int] = set()
        self._bad_frames: set[Path] = set()
        self._perm_epoch = -1
        self._perm = np.arange(0)

    def __len__(self) -> int:
        return len(self.clips)

    def clip_of(self, index: int) -> int:
        """Which clip item ``index`` starts from (a shuffled pass over the clips per epoch)."""
        epoch, pos = divmod(int(index), len(self.clips))
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, 1, epoch]).permutation(len(self.clips))
            self._perm_epoch = epoch
        return int(self._perm[pos])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        if index < 0:
            raise IndexError(f"index must be >= 0, got {index}")
        # separate streams for the fallback clip choice, each read attempt, and augmentation:
        # what a worker already knows to be unreadable then never shifts the other draws
        fallback = np.random.default_rng([self.seed, 3, int(index)])
        clip_index = self.clip_of(index)
        pair = None
        for attempt in range(2 * len(self.clips)):
            if clip_index not in self._bad_clips:
                pair = self._read_pair(clip_index, self._rng(index, attempt))
                if pair is not None:
                    break
            clip_index = int(fallback.integers(len(self.clips)))
        else:
            for clip_index in range(len(self.clips)):  # exhaustive pass before giving up
                if clip_index not in self._bad_clips:
                    pair = self._read_pair(clip_index, self._rng(index, -1))
                    if pair is not None:
                        break
            if pair is None:
                raise DatasetError(f"{self.folder}: no clip has two readable frames")
        images = torch.from_numpy(np.stack(pair)).permute(0, 3, 1, 2).float() / 255.0
        images = self._augment(images, np.random.default_rng([self.seed, 4, int(index)]))
        images = images * 2.0 - 1.0
        return {"source": images[0], "driving": images[1], "clip": clip_index}

    def _rng(self, index: int, attempt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 2, int(index), attempt + 1])

    # ---- reading ------------------------------------------------------------------------------
    def _read_pair(self, clip_index: int, rng: np.random.Generator) -> list[np.ndarray] | None:
        clip = self.clips[clip_index]
        if clip.frames is not None:
            pair = self._read_folder_pair(clip, rng)
        else:
            pair = self._read_video_pair(clip, rng)
        if pair is None:
            self._bad_clips.add(clip_index)
            _warn_skip(clip.path, "found while loading")
            return None
        return [prepare(f, self.size) for f in pair]

    def _near_pair(self, n_frames: int, rng: np.random.Generator) -> np.ndarray | None:
        """Two distinct frame indices at most ``near_gap`` apart, for a ``near_pairs`` share of
        the draws; None otherwise (and no draw at all when near pairs are off, so the paper's
        stream stays what it was)."""
        if self.near_pairs == 0.0 or n_frames < 2 or rng.random() >= self.near_pairs:
            return None
        first = int(rng.integers(n_frames))
        lo, hi = max(0, first - self.near_gap), min(n_frames - 1, first + self.near_gap)
        second = int(rng.integers(lo, hi))  # lo..hi without `first`: shift the upper part up
        second += second >= first
        return np.array([first, second])

    def _read_folder_pair(self, clip: Clip, rng: np.random.Generator) -> list[np.ndarray] | None:
        assert clip.frames is not None
        got = []
        near = self._near_pair(clip.n_frames, rng)
        order = rng.permutation(clip.n_frames)
        if near is not None:  # the near pair first; a corrupt one falls back to any frames
            order = np.concatenate([near, order[~np.isin(order, near)]])
        for i in order:  # distinct frames; corrupt ones are passed over
            path = clip.frames[int(i)]
            if path in self._bad_frames:
                continue
            try:
                got.append(read_image(path))
            except MediaError as e:
                self._bad_frames.add(path)
                warnings.warn(f"skipping corrupt frame: {e}", stacklevel=2)
                continue
            if len(got) == 2:
                return got
        return None

    def _read_video_pair(self, clip: Clip, rng: np.random.Generator) -> list[np.ndarray] | None:
        wanted = self._near_pair(clip.n_frames, rng)
        if wanted is None:
            wanted = rng.choice(clip.n_frames, size=2, replace=False)
        frames, readable = _decode_frames(clip.path, wanted)
        if len(frames) == 2:
            return [frames[int(i)] for i in wanted]
        # the stream ended or broke early: only its first `readable` frames exist
        if readable < 2:
            return None
        wanted = rng.choice(readable, size=2, replace=False)
        frames, _ = _decode_frames(clip.path, wanted)
        return [frames[int(i)] for i in wanted] if len(frames) == 2 else None

    # ---- augmentation -------------------------------------------------------------------------
    def _augment(self, images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Same flip and colour jitter for both frames of (2, 3, H, W) in [0, 1]."""
        if self.flip and rng.random() < 0.5:
            images = images.flip(-1)
        if self.jitter > 0:
            j = self.jitter
            factors = rng.uniform(1 - j, 1 + j, size=3)
            hue = float(rng.uniform(-j, j))
            for op in rng.permutation(4):
                if op == 0:
                    images = adjust_brightness(images, float(factors[0]))
                elif op == 1:
                    images = adjust_contrast(images, float(factors[1]))
                elif op == 2:
                    images = adjust_saturation(images, float(factors[2]))
                else:
                    images = adjust_hue(images, hue)
        return images


def _decode_frames(path: Path, wanted: np.ndarray) -> tuple[dict[int, np.ndarray], int]:
    """Decode a video up to the largest wanted index. Returns the wanted frames found and how
    many frames decoded before the stream ended or broke."""
    last = int(max(wanted))
    keep = {int(i) for i in wanted}
    found: dict[int, np.ndarray] = {}
    count = 0
    try:
        for count, frame in enumerate(iter_video(path), start=1):
            if count - 1 in keep:
                found[count - 1] = frame
            if count - 1 >= last:
                break
    except MediaError as e:
        warnings.warn(f"video stream broke after {count} frame(s): {e}", stacklevel=2)
    return found, count


# ---- colour jitter on (..., 3, H, W) images in [0, 1] (torchvision ColorJitter semantics) -------


def _gray(images: torch.Tensor) -> torch.Tensor:
    r, g, b = images.unbind(-3)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(-3)


def _blend(a: torch.Tensor, b: torch.Tensor, factor: float) -> torch.Tensor:
    return (factor * a + (1.0 - factor) * b).clamp(0.0, 1.0)


def adjust_brightness(images: torch.Tensor, factor: float) -> torch.Tensor:
    return (images * factor).clamp(0.0, 1.0)


def adjust_contrast(images: torch.Tensor, factor: float) -> torch.Tensor:
    mean = _gray(images).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(images, mean, factor)


def adjust_saturation(images: torch.Tensor, factor: float) -> torch.Tensor:
    return _blend(images, _gray(images), factor)


def adjust_hue(images: torch.Tensor, shift: float) -> torch.Tensor:
    """Rotate the hue by ``shift`` turns (HSV round trip)."""
    r, g, b = images.unbind(-3)
    maxc, _ = images.max(dim=-3)
    minc, _ = images.min(dim=-3)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.where(
        maxc == r,
        ((g - b) / safe) % 6,
        torch.where(maxc == g, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    h = torch.where(delta > 0, h / 6.0, torch.zeros_like(h))
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), 0 * maxc)
    v = maxc
    h = (h + shift) % 1.0
    # HSV -> RGB
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    p = v * (1 - s)
    q = v * (1 - s * f)
    t = v * (1 - s * (1 - f))
    i = i.long() % 6
    choices = [
        torch.stack(c, dim=-3)
        for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))
    ]
    out = choices[0]
    for k in range(1, 6):
        out = torch.where((i == k).unsqueeze(-3), choices[k], out)
    return out.clamp(0.0, 1.0)


class RankSampler(Sampler[int]):
    """Endless sample indices for one process: global sample ``k`` goes to rank
    ``(k // micro_batch) % world_size``. Starting at ``start`` resumes the stream exactly.

    With ``B = micro_batch * world_size * accumulation`` samples per optimizer step, step ``s``
    sees samples ``s*B ... s*B + B - 1`` whatever the split into processes and micro-batches.
    """

    def __init__(self, start: int, rank: int, world_size: int, micro_batch: int) -> None:
        if not 0 <= rank < world_size or micro_batch < 1 or start < 0:
            raise ValueError("need 0 <= rank < world_size, micro_batch >= 1, start >= 0")
        self.start, self.rank, self.world_size, self.micro_batch = (
            start,
            rank,
            world_size,
            micro_batch,
        )

    def __iter__(self) -> Iterator[int]:
        k = self.start + self.rank * self.micro_batch
        stride = self.world_size * self.micro_batch
        while True:
            yield from range(k, k + self.micro_batch)
            k += stride
