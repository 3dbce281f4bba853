"""What a prepared dataset says about itself, on disk.

DATA/prepare.json            the options (a rerun or merge must use the same ones), the shard
DATA/sources/<video_id>.json one per finished video: its clips and drops; written after its
                             last clip, so it is the mark that the video is done
DATA/manifest.csv            one row per clip, rebuilt from the records at the end of a run
DATA/{train,test}/<clip>     the clips (mp4 files or PNG frame folders)
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..io.atomic import write_json, write_text
from .sources import PrepareError

SETTINGS = "prepare.json"
RECORDS = "sources"
CLIP_MANIFEST = "manifest.csv"
KIND = "liaviz prepare"
COLUMNS = (
    "clip", "split", "source", "first_frame", "end_frame", "frames", "start_s", "end_s",
    "x0", "y0", "side", "face_size", "padded", "fps", "width", "height",
)  # fmt: skip


def read_settings(root: Path) -> dict | None:
    """``prepare.json`` of ``root``; None when there is none."""
    path = root / SETTINGS
    if not path.exists():
        return None
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise PrepareError(f"{path}: unreadable ({e})") from None
    if not isinstance(settings, dict) or settings.get("kind") != KIND:
        raise PrepareError(f"{path}: not written by liaviz prepare")
    return settings


def write_settings(root: Path, settings: dict) -> None:
    write_json(root / SETTINGS, {"kind": KIND, **settings}, PrepareError)


def record_path(root: Path, video_id: str) -> Path:
    return root / RECORDS / f"{video_id}.json"


def write_record(root: Path, record: dict) -> None:
    write_json(record_path(root, record["video_id"]), record, PrepareError)


def read_records(root: Path) -> list[dict]:
    """Every finished video's record, by video id."""
    folder = root / RECORDS
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError) as e:
            raise PrepareError(
                f"{path}: unreadable record ({e}); delete it to redo that video"
            ) from None
    return records


def is_done(root: Path, video_id: str) -> bool:
    """Whether the video has a record and every clip it lists is there."""
    path = record_path(root, video_id)
    if not path.exists():
        return False
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return all((root / row["clip"]).exists() for row in record["clips"])


def manifest_text(records: list[dict]) -> str:
    """The manifest: one CSV row per clip, in clip name order."""
    rows = sorted((row for r in records for row in r["clips"]), key=lambda row: row["clip"])
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_manifest(root: Path, records: list[dict]) -> None:
    write_text(root / CLIP_MANIFEST, manifest_text(records), PrepareError)


@dataclass
class Totals:
    """The dataset in numbers, for the summary."""

    videos: int = 0
    videos_without_face: int = 0
    clips: Counter = field(default_factory=Counter)  # per split
    dropped: Counter = field(default_factory=Counter)  # per reason
    seconds_in: float = 0.0
    seconds_out: float = 0.0

    @classmethod
    def of(cls, records: list[dict]) -> Totals:
        totals = cls(videos=len(records))
        for r in records:
            totals.videos_without_face += not r["faces"]
            totals.seconds_in += r["seconds"]
            totals.dropped.update(r["dropped"])
            for row in r["clips"]:
                totals.clips[row["split"]] += 1
                totals.seconds_out += row["frames"] / row["fps"]
        return totals

    def describe(self) -> str:
        kept = sum(self.clips.values())
        drops = ", ".join(f"{n} {why}" for why, n in sorted(self.dropped.items()) if n) or "none"
        return (
            f"{kept} clips ({self.clips['train']} train, {self.clips['test']} test), "
            f"{clock(self.seconds_out)} h, from {self.videos} videos, "
            f"{clock(self.seconds_in)} h; dropped: {drops}; "
            f"videos without a face: {self.videos_without_face}"
        )


def clock(seconds: float) -> str:
    """Seconds as hours, minutes and seconds: ``1:02:03``."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
