"""Atomic file output: write beside the target under a temporary name, flush, then rename.

An interrupted or failed write never leaves a partial file under the requested name, and an
existing file there stays intact until the new one is complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError


@contextmanager
def atomic_output(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for the caller to write; on a clean exit it is
    synced to disk, given the usual (umask) permissions and renamed onto ``path``; on an error
    it is removed. ``suffix`` ends the temporary name (for writers that go by the extension)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"{path}: output folder {path.parent} does not exist")
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".partial{suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        default_permissions(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def default_permissions(path: Path) -> None:
    """mkstemp/mkdtemp make private (0600/0700) entries; give them the usual umask mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
