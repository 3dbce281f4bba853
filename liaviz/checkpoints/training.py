"""Training checkpoints: the file format ``train/`` writes and reads back to resume a run.

A checkpoint is one ``torch.save`` file of plain data (tensors, dicts, lists, numbers, strings):
``torch.load(weights_only=True)`` reads it without unpickling any object. Its generator sits
under ``'gen'`` (and the critic under ``'dis'``) as in official LIA training files, so
``liaviz info`` and ``liaviz.load_model`` open it directly; ``'gen_ema'`` holds the EMA generator
when the run kept one, ``'model_config'`` the generator's ``LIAConfig`` as a dict. A SHA-256 over
every tensor and value is stored inside, so a file whose bytes changed after writing is
recognised as corrupt, not just a truncated one.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import torch

from ..io.atomic import atomic_output, remove_stale
from .model import CheckpointError, read_torch

TRAINING_FORMAT = "liaviz-train"  # the value of a training checkpoint's 'format' key
TRAINING_VERSION = 1
_NAME = re.compile(r"ckpt_(\d{8,})\.pt")


class CorruptCheckpoint(CheckpointError):
    """A training checkpoint that cannot be read back or fails its digest."""


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"ckpt_{step:08d}.pt"


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of the checkpoints in ``folder``, newest first."""
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.fullmatch(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found, reverse=True)


def save_checkpoint(folder: Path, step: int, payload: dict[str, Any], keep: int) -> Path:
    """Write ``payload`` (plus format, step and digest) atomically, then apply the retention:
    the newest ``keep`` checkpoints up to this step stay. The one just written always stays,
    and checkpoints of later steps (left by a run resumed from an earlier one) are not
    touched. A full disk is a ``UserError`` saying so; the previous checkpoints stay intact."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = dict(payload, format=TRAINING_FORMAT, version=TRAINING_VERSION, step=int(step))
    payload["digest"] = digest(payload)
    path = checkpoint_path(folder, step)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)  # a file object: a failed write keeps its OSError as context
    _fsync_dir(folder)
    ours = [p for s, p in list_checkpoints(folder) if s <= step]
    for old in ours[max(keep, 1) :]:
        if old != path:
            old.unlink(missing_ok=True)
    return path


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Temporary files of checkpoints whose writing was killed midway (named by the atomic
    writer after the checkpoint they were to become)."""
    return remove_stale(folder, "ckpt_*.pt")


def load_training_checkpoint(path: Path) -> dict[str, Any]:
    """Read and verify one training checkpoint; ``CorruptCheckpoint`` says what is wrong."""
    return _verified(path, _read(path))


def verified_if_training(path: Path, data: Any) -> dict[str, Any] | None:
    """``data`` (a torch file's contents) verified when it is a training checkpoint; None when it
    is another kind (an official ``.pt``, a bare state_dict)."""
    if not (isinstance(data, dict) and data.get("format") == TRAINING_FORMAT):
        return None
    return _verified(path, data)


def _read(path: Path) -> Any:
    """A training checkpoint's contents: tensors and plain data only (``read_torch``)."""
    if not path.is_file():
        raise CorruptCheckpoint(f"{path}: no such checkpoint")
    try:
        return read_torch(path, allowed=())
    except CheckpointError as e:  # resume's fallback to an older checkpoint catches this class
        raise CorruptCheckpoint(str(e)) from None


def _verified(path: Path, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != TRAINING_FORMAT:
        raise CorruptCheckpoint(f"{path}: not a liaviz training checkpoint")
    stored = data.pop("digest", None)
    if stored != digest(data):
        raise CorruptCheckpoint(f"{path}: contents do not match their digest (corrupt file)")
    return data


def digest(obj: Any) -> str:
    """SHA-256 over a nested structure of tensors and plain values, in a fixed order."""
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(b"{")
        for key in sorted(obj, key=repr):
            h.update(repr(key).encode())
            _feed(h, obj[key])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for item in obj:
            _feed(h, item)
        h.update(b"]")
    else:
        h.update(repr(obj).encode())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
