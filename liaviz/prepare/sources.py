"""The raw videos of a ``liaviz prepare`` run: which they are, their names, their split and shard.

Everything here is a pure function of a video's **key**: its path relative to the RAW folder
(or as a list file writes it), with ``/`` separators. It does not depend on the other videos, the
machine or the order of work, so N shard jobs on N machines agree on every split without talking
to each other, and a rerun gives the same names and the same split.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..io import VIDEO_SUFFIXES


class PrepareError(UserError):
    """Bad arguments to ``liaviz prepare``, or an output folder it must not touch."""


@dataclass(frozen=True)
class Source:
    """One raw video: where it is and the key that names, splits and shards it."""

    path: Path
    key: str

    @property
    def video_id(self) -> str:
        """A file-name-safe id, unique per key: the file's stem and a hash of the key."""
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(self.key).stem).strip("_")[:40] or "video"
        return f"{stem}-{stable_hash('id', self.key)[:10]}"


def stable_hash(salt: str, text: str) -> str:
    """The SHA-256 hex digest of ``salt`` and ``text``: the same on every machine and run."""
    return hashlib.sha256(f"{salt}\0{text}".encode()).hexdigest()


def unit_interval(salt: str, text: str) -> float:
    """A number in [0, 1) spread evenly over keys, fixed by ``salt`` and ``text``."""
    return int(stable_hash(salt, text)[:15], 16) / 16**15


def split_of(source: Source, test_share: float, seed: int, group: str = "video") -> str:
    """``"test"`` for about ``test_share`` of the videos, else ``"train"``, by a seeded hash of
    the video's key, or of its folder's (``group="folder"``: VoxCeleb's raw layout keeps one
    person per folder, so no person is in both splits)."""
    key = source.key if group == "video" else str(Path(source.key).parent)
    return "test" if unit_interval(f"split {seed}", key) < test_share else "train"


def in_shard(source: Source, shard: tuple[int, int] | None) -> bool:
    """Whether the video belongs to shard K of N (``shard = (K, N)``, K from 0), by a hash of
    its key; every video is in exactly one shard."""
    if shard is None:
        return True
    k, n = shard
    return int(stable_hash("shard", source.key)[:15], 16) % n == k


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), with 0 <= K < N."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 0 <= int(match[1]) < int(match[2]):
        raise PrepareError(f"--shard must be K/N with 0 <= K < N (e.g. 0/16), got {text!r}")
    return int(match[1]), int(match[2])


def list_sources(raw: str | os.PathLike) -> list[Source]:
    """The videos of ``raw``: a folder (every file with a video suffix in it and its
    sub-folders, hidden ones skipped), a text file listing one path per line (relative paths
    are relative to the list; blank lines and ``#`` comments are skipped) or a single video
    file. Sorted by key; a key given twice is listed once."""
    raw = Path(raw).expanduser()
    if raw.is_dir():
        found = [
            Source(p, p.relative_to(raw).as_posix())
            for p in raw.rglob("*")
            if p.suffix.lower() in VIDEO_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(raw).parts)
            and p.is_file()
        ]
    elif raw.is_file() and raw.suffix.lower() in VIDEO_SUFFIXES:
        found = [Source(raw, raw.name)]
    elif raw.is_file():
        found = _listed(raw)
    else:
        raise PrepareError(f"{raw}: no such folder or file (give a folder of videos or a list)")
    unique = {s.key: s for s in found}
    if not unique:
        raise PrepareError(f"{raw}: holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    return [unique[k] for k in sorted(unique)]


def _listed(listing: Path) -> list[Source]:
    try:
        text = listing.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PrepareError(f"{listing}: cannot read the list of videos ({e})") from None
    if "\0" in text:
        raise PrepareError(f"{listing}: not a text list of videos (it holds binary data)")
    sources = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(line).expanduser()
        sources.append(Source(path if path.is_absolute() else listing.parent / path, line))
    return sources
