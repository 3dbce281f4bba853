"""Training checkpoints: what they hold, how they are written, and how a run finds them again.

A checkpoint is one ``torch.save`` file of plain data (tensors, dicts, lists, numbers, strings):
``torch.load(weights_only=True)`` reads it without unpickling any object. Its generator sits
under ``'gen'`` (and the critic under ``'dis'``) as in official LIA training files, so
``liaviz info`` and ``liaviz.load_model`` open it directly. A SHA-256 over every tensor and value
is stored inside, so a file whose bytes changed after writing is recognised as corrupt, not just
a truncated one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from liaviz.atomic import atomic_output, remove_stale
from liaviz.errors import UserError

FORMAT = "liaviz-train"
VERSION = 1
_NAME = re.compile(r"ckpt_(\d{8,})\.pt")


class CorruptCheckpoint(UserError):
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
    payload = dict(payload, format=FORMAT, version=VERSION, step=int(step))
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


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read and verify one training checkpoint; ``CorruptCheckpoint`` says what is wrong."""
    try:
        # an open file, not a path: torch sends paths named *.safetensors to safetensors
        with open(path, "rb") as f:
            data = torch.load(f, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CorruptCheckpoint(f"{path}: no such checkpoint") from None
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CorruptCheckpoint(f"{path}: refused to unpickle ({first})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CorruptCheckpoint(f"{path}: truncated or corrupt ({first})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CorruptCheckpoint(f"{path}: not a liaviz training checkpoint")
    stored = data.pop("digest", None)
    if stored != digest(data):
        raise CorruptCheckpoint(f"{path}: contents do not match their digest (corrupt file)")
    return data


def find_resume(
    folder: Path, resume: str | None, passed_over: list[Path] | None = None
) -> tuple[Path, dict[str, Any]] | None:
    """The checkpoint to resume from: ``None`` (fresh run), ``"auto"`` (the newest valid one in
    ``folder``, passing over corrupt ones with a warning and adding them to ``passed_over``;
    None when there is none at all) or a path. When every checkpoint there is corrupt, that is
    an error: a fresh run would mix its checkpoints with them."""
    if resume is None:
        return None
    if resume != "auto":
        path = Path(resume)
        return path, load_checkpoint(path)
    found = list_checkpoints(folder)
    for _, path in found:
        try:
            return path, load_checkpoint(path)
        except CorruptCheckpoint as e:
            warnings.warn(f"{e}; trying the previous checkpoint", stacklevel=2)
            if passed_over is not None:
                passed_over.append(path)
    if found:
        raise CorruptCheckpoint(
            f"{folder}: none of its {len(found)} checkpoint(s) can be read, so there is nothing "
            "to resume from; to start a fresh run there instead, drop --resume and pass "
            "--overwrite (which deletes them)"
        )
    return None


def set_aside(paths: list[Path]) -> list[Path]:
    """Rename corrupt checkpoints to ``<name>.corrupt``: kept for inspection, but no longer
    listed, resumed from or counted by the retention."""
    moved = []
    for p in paths:
        target = p.with_name(p.name + ".corrupt")
        if p.exists():
            os.replace(p, target)
            moved.append(target)
    return moved


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


# ---- random states as plain data ----------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) generator states, as tensors, lists and numbers."""
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": _to_lists(random.getstate()),
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_lists(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return [_to_lists(x) for x in obj]
    return obj
