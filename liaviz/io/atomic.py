"""Atomic file output: write beside the target under a temporary name, flush, then rename.

An interrupted or failed write never leaves a partial file under the requested name, and an
existing file there stays intact until the new one is complete. Temporaries are named
``.<name>.<random>.partial<suffix>`` (``temporary``), so a process killed outright (SIGKILL)
leaves files that ``remove_stale`` can find by the target's name.

Every liaviz writer goes through here: ``write_bytes`` / ``write_text`` / ``write_json`` for
whole contents, ``atomic_output`` for writers that need a path (PIL, torch.save, ffmpeg),
``atomic_folder`` for a folder filled file by file. The output is checked once, in
``check_output_folder``: its folder must exist, and within ``guarding_inputs`` (every ``liaviz``
command runs inside one) it must not be, or lie inside, one of the inputs, so no writer can
destroy what it reads.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from ..errors import UserError, first_line

# errno values that mean the disk (or the user's quota, or a file size limit) is full
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# the inputs of the work under way (``guarding_inputs``): every writer refuses to write over them
_INPUTS: ContextVar[tuple[Path, ...]] = ContextVar("liaviz_inputs", default=())


def is_no_space(e: BaseException) -> bool:
    """Whether ``e`` is, or was raised while handling, an OSError for a full disk. torch.save
    reports a failed write as a RuntimeError whose context is the OSError; safetensors as a
    SafetensorError that only says so in its message."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in NO_SPACE:
            return True
        if not isinstance(e, OSError) and os.strerror(errno.ENOSPC) in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def temporary(path: str | os.PathLike, suffix: str = "", folder: bool = False) -> Path:
    """Create (private, empty) the temporary file or folder that will become ``path``."""
    path = Path(path)
    prefix, end = f".{path.name}.", f".partial{suffix}"
    if folder:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=end, dir=path.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=end, dir=path.parent)
    os.close(fd)
    return Path(name)


def remove_stale(folder: str | os.PathLike, name_glob: str = "*") -> list[Path]:
    """Remove the temporaries ``temporary`` made for targets matching ``name_glob`` in
    ``folder`` (left by a killed process). Only for folders no other writer is using."""
    folder = Path(folder)
    removed = []
    if folder.is_dir():
        for p in folder.glob(f".{name_glob}.*.partial*"):
            _remove(p)
            removed.append(p)
    return removed


@contextmanager
def _staged(
    path: Path, error: type[UserError], suffix: str = "", folder: bool = False
) -> Iterator[Path]:
    """The temporary beside ``path`` that is to become it: made, yielded, and removed on any exit
    that did not rename it onto ``path``; a full disk is one line as an ``error``."""
    check_output_folder(path, error)
    try:
        tmp = temporary(path, suffix, folder)
    except OSError as e:
        raise error(os_reason(path, e)) from None
    try:
        yield tmp
    except Exception as e:
        if is_no_space(e):
            raise error(no_space_message(path)) from None
        raise
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    """Delete a temporary file or folder (a link itself, never what it points to)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_output(
    path: str | os.PathLike, suffix: str = "", error: type[UserError] = UserError
) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for the caller to write; on a clean exit it is
    synced to disk, given the permissions of the file it replaces (or the usual umask ones) and
    renamed onto ``path``; on an error it is removed. ``suffix`` ends the temporary name (for
    writers that go by the extension). A full disk is an ``error`` (a ``UserError`` subclass of
    the caller's choice) saying so in one line. A folder at ``path`` is refused before
    anything is written (renaming a file onto it would fail only at the end)."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a folder; name a file to write")
    with _staged(path, error, suffix) as tmp:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        match_permissions(tmp, path)
        os.replace(tmp, path)


@contextmanager
def atomic_folder(path: str | os.PathLike, error: type[UserError] = UserError) -> Iterator[Path]:
    """Yield a temporary folder beside ``path`` for the caller to fill; on a clean exit it is
    renamed onto ``path`` (which must not exist yet, or be an empty folder); on an error it is
    removed, so a reader never sees half a folder under ``path``."""
    path = Path(path)
    with _staged(path, error, folder=True) as tmp:
        yield tmp
        default_permissions(tmp)
        os.replace(tmp, path)


def check_output_folder(path: str | os.PathLike, error: type[UserError] = UserError) -> None:
    """Refuse, as an ``error`` naming it, an output ``path`` whose folder does not exist, or that
    is (or lies inside) an input of the work under way (``guarding_inputs``). Every writer goes
    through here, so no writer can forget either check and the message is the same whatever is
    written."""
    parent = Path(path).parent
    if not parent.is_dir():
        raise error(f"{path}: output folder {parent} does not exist")
    check_not_a_guarded_input(path, error)


def check_not_a_guarded_input(path: str | os.PathLike, error: type[UserError] = UserError) -> None:
    """Refuse an output ``path`` that is one of the inputs of the work under way
    (``guarding_inputs``). Writers do it themselves; a command that fills a folder calls it for
    every name it will write there, to refuse before it writes the first one."""
    check_not_an_input(path, *_INPUTS.get(), error=error)


@contextmanager
def guarding_inputs(*paths: str | os.PathLike | None) -> Iterator[None]:
    """Within the block, every writer refuses an output that is one of ``paths`` (the same file
    by any name: a symlink, a hard link, ``../``), or lies inside one that is a folder. Nested
    blocks add to the outer ones' inputs. ``None`` entries are ignored."""
    token = _INPUTS.set(_INPUTS.get() + tuple(Path(p) for p in paths if p is not None))
    try:
        yield
    finally:
        _INPUTS.reset(token)


def check_not_an_input(
    out: str | os.PathLike, *inputs: str | os.PathLike, error: type[UserError] = UserError
) -> None:
    """Refuse, as an ``error``, an output path that is one of ``inputs`` or lies inside an input
    folder: writing it would destroy (or change) that input."""
    out = Path(out)
    resolved = out.resolve()
    for given in inputs:
        try:
            same = os.path.samefile(out, given)
        except OSError:  # one of them does not exist (yet)
            same = False
        if same:
            raise error(
                f"{out}: is also the input {given}; writing there would destroy it (choose "
                "another output name)"
            )
        if Path(given).is_dir() and resolved.is_relative_to(Path(given).resolve()):
            raise error(
                f"{out}: lies inside the input folder {given}; writing there would change that "
                "input (choose an output outside it)"
            )


def no_space_message(path: Path) -> str:
    return (
        f"{path}: no space left on the device while writing (nothing was written under that "
        "name; a previous file there is untouched)"
    )


def os_reason(path: str | os.PathLike, e: OSError) -> str:
    """One line for an OSError while writing ``path``: the full-disk message, or the reason."""
    if e.errno in NO_SPACE:
        return no_space_message(path)
    return f"{path}: cannot write ({first_line(e)})"


def match_permissions(tmp: Path, target: Path) -> None:
    """Give ``tmp`` the mode of the ``target`` it will replace (a private 0600 file stays
    private), or the usual umask mode when there is none yet."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        default_permissions(tmp)
        return
    os.chmod(tmp, mode)


def default_permissions(path: Path) -> None:
    """mkstemp/mkdtemp make private (0600/0700) entries; give them the usual umask mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def write_bytes(path: str | os.PathLike, data: bytes, error: type[UserError] = UserError) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path, error=error) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, error: type[UserError] = UserError) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"), error)


def json_text(obj: object) -> str:
    """``obj`` as indented JSON with sorted keys and a final newline: the same bytes for the
    same data (what ``write_json`` writes)."""
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"


def write_json(path: str | os.PathLike, obj: object, error: type[UserError] = UserError) -> Path:
    """Write ``obj`` as ``json_text`` to ``path`` atomically."""
    return write_text(path, json_text(obj), error)
