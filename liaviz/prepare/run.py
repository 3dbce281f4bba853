"""``prepare``: raw videos in, a FOMM-layout dataset of face clips out, video by video.

Each video is done whole by one worker process (scan, plan, cut, then its record), so workers
share nothing but the output folder, and a video whose record exists is done: a rerun with
``resume`` skips it. Clips are written atomically; the temporaries a killed run leaves are
removed when the next one starts.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from ..data.fomm import SPLITS
from ..faces.detect import RetinaFaceDetector
from ..faces.track import VIDEO_MAX_SIDE
from ..io import MediaError
from ..io.atomic import remove_stale
from .clips import ClipPlan, Rules, plan_clips
from .records import (
    RECORDS,
    Totals,
    is_done,
    read_records,
    read_settings,
    write_manifest,
    write_record,
    write_settings,
)
from .sources import PrepareError, Source, in_shard, list_sources, split_of
from .video import scan_video, write_clips

DETECT_EVERY = 5  # detect every 5th frame of a shot by default (5 a second at 25 fps)


@dataclass(frozen=True)
class Options:
    """Everything that decides the dataset's content (a resumed run must use the same)."""

    rules: Rules = Rules()
    format: str = "mp4"  # or "png": a folder of frames per clip
    test_share: float = 0.1
    seed: int = 0
    group: str = "video"  # or "folder": videos of one folder share a split
    detect_every: int = DETECT_EVERY


@dataclass
class Outcome:
    """What a run did: the dataset's totals, and the videos it could not read."""

    totals: Totals
    done_now: int
    skipped: int
    failed: list[str]


def prepare_dataset(
    raw: str | os.PathLike,
    out: str | os.PathLike,
    options: Options = Options(),
    *,
    shard: tuple[int, int] | None = None,
    workers: int = 1,
    resume: bool = False,
    progress: bool = True,
    report: Callable[[str], None] = print,
) -> Outcome:
    """Cut every face track of the videos of ``raw`` (``list_sources``; those of ``shard``
    only) into ``out/{train,test}/<clip>``, with ``out/manifest.csv``. ``report`` gets one line
    per video that cannot be read (it is retried by the next ``resume`` run)."""
    out = Path(out).expanduser()
    sources = [s for s in list_sources(raw) if in_shard(s, shard)]
    _check_not_inside(out, Path(raw).expanduser())
    _open_output(out, options, shard, resume)
    todo = [s for s in sources if not is_done(out, s.video_id)]
    failed: list[str] = []
    jobs = [(s, split_of(s, options.test_share, options.seed, options.group)) for s in todo]
    from ..progress import progress_bar

    clips = 0
    with progress_bar(total=len(jobs), enabled=progress, desc="prepare", unit="video") as bar:
        for message, record in _results(out, options, jobs, workers):
            if message:
                failed.append(message)
                report(message)
            else:
                clips += len(record["clips"])
            bar.update(1)
            bar.set_postfix(clips=clips, refresh=False)
    write_manifest(out, read_records(out))
    totals = Totals.of(read_records(out))
    return Outcome(totals, len(jobs) - len(failed), len(sources) - len(jobs), failed)


def _check_not_inside(out: Path, raw: Path) -> None:
    if raw.is_dir() and out.resolve().is_relative_to(raw.resolve()):
        raise PrepareError(f"{out}: is inside the raw folder {raw}; its clips would be read as raw")


def _open_output(out: Path, options: Options, shard: tuple[int, int] | None, resume: bool) -> None:
    """Make ``out`` ready: new or empty, or (with ``resume``) a dataset of the same options."""
    settings = {"options": asdict(options), "shard": f"{shard[0]}/{shard[1]}" if shard else None}
    if out.exists() and not out.is_dir():
        raise PrepareError(f"{out}: is a file, not a folder for the dataset")
    if out.is_dir() and any(out.iterdir()):
        found = read_settings(out)
        if found is None:
            raise PrepareError(f"{out}: holds other files; give a new or empty folder")
        if not resume:
            raise PrepareError(
                f"{out}: already holds a prepared dataset; --resume continues it (or give "
                "another folder)"
            )
        for key in ("options", "shard"):
            if found.get(key) != settings[key]:
                raise PrepareError(
                    f"{out}: was prepared with other {key} ({found.get(key)}); resume it with "
                    "the same ones, or give another folder"
                )
    try:
        for name in (*SPLITS, RECORDS):
            (out / name).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PrepareError(f"{out}: cannot create the dataset folder ({e})") from None
    for name in (*SPLITS, RECORDS):
        remove_stale(out / name)  # what a killed run was writing
    remove_stale(out)
    write_settings(out, settings)


def _results(out: Path, options: Options, jobs: list[tuple[Source, str]], workers: int):
    """(error line or None, record or None) per job, as they finish."""
    tasks = [(str(out), options, source, split, workers > 1) for source, split in jobs]
    if workers <= 1 or len(tasks) <= 1:
        yield from map(_do_video, tasks)
        return
    # fork on Linux: workers start at once and callers need no __main__ guard
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ctx.Pool(min(workers, len(tasks))) as pool:
        yield from pool.imap_unordered(_do_video, tasks)


_DETECTORS: dict[int, RetinaFaceDetector] = {}


def _detector(threads: int) -> RetinaFaceDetector:
    """One detector per process (loaded once), at video resolution."""
    if threads not in _DETECTORS:
        _DETECTORS[threads] = RetinaFaceDetector(max_side=VIDEO_MAX_SIDE, threads=threads)
    return _DETECTORS[threads]


def _do_video(task: tuple[str, Options, Source, str, bool]) -> tuple[str | None, dict | None]:
    out, options, source, split, parallel = task
    try:
        return None, prepare_video(Path(out), source, split, options, 1 if parallel else 2)
    except MediaError as e:
        return f"skipped {source.path}: {e}", None


def prepare_video(out: Path, source: Source, split: str, options: Options, threads: int) -> dict:
    """Scan, plan and cut one video, then write its record; returns the record."""
    every = options.detect_every
    scan, info = scan_video(source.path, _detector(threads), every)
    plans, dropped = plan_clips(scan, options.rules)
    names = [f"{source.video_id}_{k:03d}" for k in range(len(plans))]
    suffix = ".mp4" if options.format == "mp4" else ""
    targets = [out / split / f"{name}{suffix}" for name in names]
    rate = info.rate or Fraction(info.fps).limit_denominator(1001)
    write_clips(source.path, plans, targets, options.rules.size, rate)
    fps = float(rate)
    record = {
        "source": str(source.path),
        "key": source.key,
        "video_id": source.video_id,
        "split": split,
        "fps": fps,
        "frames": scan.n_frames,
        "width": info.width,
        "height": info.height,
        "seconds": scan.n_frames / fps,
        "faces": any(scan.faces),
        "dropped": dict(dropped),
        "clips": [_row(t.relative_to(out), source, split, p, fps, info) for t, p in zip(targets, plans, strict=True)],
    }  # fmt: skip
    write_record(out, record)
    return record


def _row(clip: Path, source: Source, split: str, plan: ClipPlan, fps: float, info) -> dict:
    return {
        "clip": clip.as_posix(),
        "split": split,
        "source": source.key,
        "first_frame": plan.first,
        "end_frame": plan.end,
        "frames": plan.n_frames,
        "start_s": round(plan.first / fps, 4),
        "end_s": round(plan.end / fps, 4),
        "x0": int(plan.box.x0),
        "y0": int(plan.box.y0),
        "side": int(plan.box.side),
        "face_size": round(plan.face_size, 1),
        "padded": int(plan.padded),
        "fps": round(fps, 4),
        "width": info.width,
        "height": info.height,
    }
