"""``merge``: the folders of ``prepare --shard K/N`` jobs joined into one dataset.

Each clip is hard-linked into the merged folder (copied when the shards sit on another file
system), under a temporary name then renamed, so the merged folder only ever holds whole clips;
the shards stay as they are. Every video is in one shard only, so clip names never collide.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..data.fomm import SPLITS
from ..io.atomic import atomic_folder, atomic_output
from .records import (
    RECORDS,
    Totals,
    read_records,
    read_settings,
    write_manifest,
    write_record,
    write_settings,
)
from .sources import PrepareError


def merge(shards: list[str | os.PathLike], out: str | os.PathLike, resume: bool = False) -> Totals:
    """Join the prepared folders ``shards`` (made with the same options) into ``out``."""
    out = Path(out).expanduser()
    folders = [Path(s).expanduser() for s in shards]
    options, seen = None, {}
    for folder in folders:
        settings = read_settings(folder) if folder.is_dir() else None
        if settings is None:
            raise PrepareError(f"{folder}: not a folder made by liaviz prepare (no prepare.json)")
        if options is not None and settings["options"] != options:
            raise PrepareError(f"{folder}: was prepared with other options than {folders[0]}")
        options = settings["options"]
        for record in read_records(folder):
            if seen.setdefault(record["video_id"], folder) != folder:
                raise PrepareError(
                    f"{record['source']} is in both {seen[record['video_id']]} and {folder}"
                )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        found = read_settings(out) if out.is_dir() else None
        if found is None or not resume or found["options"] != options:
            raise PrepareError(
                f"{out}: is not empty; give a new folder (--resume continues a merge of the "
                "same shards)"
            )
    for name in (*SPLITS, RECORDS):
        (out / name).mkdir(parents=True, exist_ok=True)
    write_settings(out, {"options": options, "shard": None, "merged": [str(f) for f in folders]})
    for folder in folders:
        for record in read_records(folder):
            for row in record["clips"]:
                _link(folder / row["clip"], out / row["clip"])
            write_record(out, record)
    records = read_records(out)
    write_manifest(out, records)
    return Totals.of(records)


def _link(source: Path, target: Path) -> None:
    """``target`` as a hard link to (or a copy of) the clip ``source``, file or frame folder."""
    if target.exists():
        return
    if not source.exists():
        raise PrepareError(f"{source}: listed in its shard's records but missing")
    if source.is_dir():
        with atomic_folder(target, PrepareError) as tmp:
            for frame in sorted(source.iterdir()):
                _link_file(frame, tmp / frame.name)
        return
    with atomic_output(target, target.suffix, PrepareError) as tmp:
        tmp.unlink()
        _link_file(source, tmp)


def _link_file(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: copy
        shutil.copyfile(source, target)
