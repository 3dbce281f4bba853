"""The synthetic dataset: which person and motion each video gets (from ``(seed, split,
index)``), and writing and reading it on disk in the FOMM layout."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
import signal
import sys
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import UserError
from ...io.atomic import atomic_folder, json_text, remove_stale, write_json
from ..fomm import SPLITS
from .factors import FACTOR_NAMES, FACTORS
from .identity import Identity
from .rendering import FaceRenderer, default_supersample, render_video
from .trajectories import sample_trajectory

SYNTH_MANIFEST = "synth.json"  # written first with "complete": false, rewritten when done
SYNTH_FORMAT_VERSION = 2  # 2: tight VoxCeleb-like framing, larger features, expression events
# where writers before liaviz 0.1's atomic folders staged videos: --overwrite removes it too
OLD_STAGING = ".incomplete"


class SynthError(UserError):
    """Bad arguments to the synthetic dataset writer, or an output folder it must not touch."""


def identity_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """The seed of video ``index`` of ``split``. Split and index go into the spawn key, so no two
    (split, index) pairs share a stream: train and test identities cannot collide."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return np.random.SeedSequence(int(seed), spawn_key=(SPLITS.index(split), int(index)))


def video_spec(
    seed: int, split: str, index: int, n_frames: int
) -> tuple[Identity, dict[str, np.ndarray]]:
    """The identity and trajectory of one dataset video (independent streams for each)."""
    ident_ss, motion_ss = identity_seed(seed, split, index).spawn(2)
    ident = Identity.sample(np.random.default_rng(ident_ss))
    return ident, sample_trajectory(np.random.default_rng(motion_ss), n_frames)


def video_frames(
    seed: int, split: str, index: int, n_frames: int, size: int = 64
) -> tuple[np.ndarray, dict[str, np.ndarray], Identity]:
    """Dataset video ``index`` of ``split`` in memory, exactly as :func:`write_dataset` writes it:
    ``(frames (T,S,S,3) uint8, trajectory, identity)``."""
    ident, traj = video_spec(seed, split, index, n_frames)
    return render_video(ident, traj, size), traj, ident


def video_name(split: str, index: int) -> str:
    """Folder name of dataset video ``index`` of ``split`` (unique across splits)."""
    return f"{split}-{index:05d}"


def format_factors_csv(trajectory: Mapping[str, np.ndarray]) -> str:
    """``factors.csv`` text: a ``frame`` column, then one column per factor in FACTORS order."""
    cols = [np.asarray(trajectory[name], dtype=np.float64) for name in FACTOR_NAMES]
    lines = [",".join(("frame",) + FACTOR_NAMES)]
    for i in range(len(cols[0])):
        lines.append(",".join([str(i)] + [f"{c[i]:.6f}" for c in cols]))
    return "\n".join(lines) + "\n"


def read_factors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a video's ``factors.csv`` (the file, or the video folder holding it) back into a
    trajectory ``{factor: (T,) float64}``."""
    path = Path(path)
    if path.is_dir():
        path = path / "factors.csv"
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as e:
        raise SynthError(f"{path}: cannot read factors ({e.strerror})") from e
    if not rows or rows[0][:1] != ["frame"] or set(rows[0][1:]) != set(FACTOR_NAMES):
        raise SynthError(
            f"{path}: not a factors.csv (expected columns frame, {', '.join(FACTOR_NAMES)})"
        )
    header = rows[0]
    try:
        data = np.array([[float(x) for x in r] for r in rows[1:]], dtype=np.float64).reshape(
            -1, len(header)
        )
    except ValueError as e:
        raise SynthError(f"{path}: malformed row ({e})") from e
    if not np.array_equal(data[:, 0], np.arange(len(data))):
        raise SynthError(f"{path}: frame column is not 0, 1, 2, ...")
    return {name: data[:, j] for j, name in enumerate(header) if name != "frame"}


def _save_png(img: Image.Image, path: Path) -> None:
    # fixed settings: no metadata, fixed zlib level, so the bytes are a function of the pixels
    img.save(path, format="PNG", compress_level=3)


def _write_video(job: tuple[str, str, int, int, int, int, int]) -> str:
    """Render and write one video into a hidden folder beside its place in its split, renamed
    into place when complete (so a reader never sees half a video)."""
    root, split, index, seed, n_frames, size, ss = job
    name = video_name(split, index)
    ident, traj = video_spec(seed, split, index, n_frames)
    r = FaceRenderer(ident, size, ss)
    with atomic_folder(Path(root) / split / name, SynthError) as tmp:
        for i in range(n_frames):
            _save_png(r.render({k: float(v[i]) for k, v in traj.items()}), tmp / f"{i:05d}.png")
        # plain writes: the folder as a whole is what appears atomically
        (tmp / "factors.csv").write_text(format_factors_csv(traj))
        (tmp / "identity.json").write_text(json_text(ident.to_dict()))
    return name


def _quiet_worker() -> None:
    """Leave signals to the parent: a worker forked inside ``sigterm_as_interrupt`` would print
    a traceback for the SIGTERM with which the pool ends it, and one for every Ctrl-C."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SynthError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise SynthError(
                f"{out}: folder is not empty; pass --overwrite to replace the dataset there"
            )
        if not (out / SYNTH_MANIFEST).is_file():
            raise SynthError(
                f"{out}: not a dataset written by liaviz synth (no {SYNTH_MANIFEST}); "
                "refusing to overwrite it, choose an empty or new folder"
            )
        for entry in (*SPLITS, OLD_STAGING):
            if (out / entry).exists():
                shutil.rmtree(out / entry)
        (out / SYNTH_MANIFEST).unlink()
    out.mkdir(parents=True, exist_ok=True)


def default_workers(n_videos: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8, n_videos))


def write_dataset(
    out: str | os.PathLike,
    n_videos: int,
    n_frames: int = 64,
    size: int = 64,
    seed: int = 0,
    test_fraction: float = 0.1,
    *,
    n_test: int | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    supersample: int | None = None,
) -> dict:
    """Write a synthetic talking-face dataset in the FOMM layout::

        OUT/synth.json                              parameters; "complete": true once done
        OUT/{train,test}/<split>-<index>/00000.png  frames, lossless RGB
        OUT/{train,test}/<split>-<index>/factors.csv   frame, then one column per factor
        OUT/{train,test}/<split>-<index>/identity.json the person's appearance parameters

    Each video is a new identity; its appearance and motion derive from ``(seed, split,
    index)``, so the output is the same bytes whatever ``workers`` is, and train and test never
    share a person. Each video is written in a hidden folder beside its place and renamed into
    place when complete; an interrupted run leaves ``synth.json`` with ``"complete": false``.
    ``n_test`` (default ``round(n_videos * test_fraction)``, at least 1 when that is positive
    and there are two videos or more) of the ``n_videos`` go to the test split.
    Returns the manifest.
    """
    if n_videos < 1:
        raise SynthError(f"number of videos must be >= 1, got {n_videos}")
    if n_frames < 2:
        raise SynthError(
            f"frames per video must be >= 2 (training pairs two frames), got {n_frames}"
        )
    if not 16 <= size <= 1024:
        raise SynthError(f"size must be between 16 and 1024 pixels, got {size}")
    if n_test is None:
        if not 0.0 <= test_fraction <= 1.0:
            raise SynthError(f"test fraction must be in [0, 1], got {test_fraction}")
        n_test = int(round(n_videos * test_fraction))
        if test_fraction > 0 and n_videos >= 2:
            n_test = min(max(n_test, 1), n_videos - 1)
    if not 0 <= n_test <= n_videos:
        raise SynthError(
            f"test videos must be between 0 and the number of videos ({n_videos}), got {n_test}"
        )
    if supersample is not None and not 1 <= supersample <= 8:
        raise SynthError(f"supersample must be between 1 and 8, got {supersample}")
    ss = int(supersample or default_supersample(size))
    out_p = Path(out).expanduser()
    try:
        return _write_all(
            out_p,
            int(n_videos) - n_test,
            n_test,
            n_frames,
            size,
            seed,
            ss,
            workers,
            overwrite,
            progress,
        )
    except OSError as e:  # disk full, permissions: the user's to fix
        raise SynthError(f"{out_p}: cannot write the dataset ({e})") from e


def _write_all(
    out_p: Path,
    n_train: int,
    n_test: int,
    n_frames: int,
    size: int,
    seed: int,
    ss: int,
    workers: int | None,
    overwrite: bool,
    progress: bool,
) -> dict:
    _prepare_out(out_p, overwrite)
    counts = {"train": n_train, "test": n_test}
    manifest = {
        "kind": "liaviz synthetic talking faces",
        "format_version": SYNTH_FORMAT_VERSION,
        "complete": False,
        "seed": int(seed),
        "size": int(size),
        "supersample": ss,
        "frames_per_video": int(n_frames),
        "videos": counts,
        "factors": [asdict(f) for f in FACTORS],
    }
    write_json(out_p / SYNTH_MANIFEST, manifest, SynthError)
    for split in SPLITS:
        (out_p / split).mkdir()
    jobs = [
        (str(out_p), split, i, int(seed), int(n_frames), int(size), ss)
        for split in SPLITS
        for i in range(counts[split])
    ]
    try:
        _run(jobs, workers, progress)
    except BaseException:
        for split in SPLITS:  # the half-written videos of workers the pool ended
            remove_stale(out_p / split)
        raise
    manifest["complete"] = True
    write_json(out_p / SYNTH_MANIFEST, manifest, SynthError)
    return manifest


def _run(
    jobs: list[tuple[str, str, int, int, int, int, int]], workers: int | None, progress: bool
) -> None:
    """Write the videos of ``jobs``, in ``workers`` processes (default: ``default_workers``)."""
    n_workers = max(1, min(workers or default_workers(len(jobs)), len(jobs)))
    from ...progress import progress_bar  # lazily: the renderer needs no torch

    with progress_bar(total=len(jobs), enabled=progress, desc="synth", unit="video") as bar:
        if n_workers == 1:
            for job in jobs:
                _write_video(job)
                bar.update(1)
        else:
            # fork on Linux: workers start at once and callers need no __main__ guard; the
            # workers run only numpy and Pillow, never torch, so torch state in the parent is inert
            ctx = multiprocessing.get_context(
                "fork" if sys.platform.startswith("linux") else "spawn"
            )
            with ctx.Pool(n_workers, initializer=_quiet_worker) as pool:
                for _ in pool.imap_unordered(_write_video, jobs):
                    bar.update(1)


def read_manifest(root: str | os.PathLike) -> dict:
    """The ``synth.json`` of a dataset written by :func:`write_dataset`; raises
    :class:`SynthError` when it is missing or the run that wrote it did not finish."""
    path = Path(root).expanduser() / SYNTH_MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise SynthError(
            f"{path.parent}: not a liaviz synthetic dataset (no {SYNTH_MANIFEST})"
        ) from None
    except (OSError, ValueError) as e:
        raise SynthError(f"{path}: unreadable ({e})") from e
    if not manifest.get("complete"):
        raise SynthError(
            f"{path.parent}: incomplete dataset (the run that wrote it was interrupted); write it again"
        )
    return manifest
