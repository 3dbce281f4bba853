"""Edits and sweeps: the source's own code moved along the directions, z = z_{s->s} + sum_i e_i d_i
(the paper's Fig. 6), decoded against a source encoded once.

An edit is what ``parse_edit`` (below) reads (M values, a mapping {direction number: value}
with numbers from 1, or "i=v,i=v" text); ``edit_images`` also takes a batch (N, M). Sweep
``directions`` are 0-based positions into the M directions (the row ``i`` is d_{i+1}).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io import to_uint8
from ..nn import LIA, SourceState
from ..numeric import float32
from ..progress import progress_bar
from ..runtime.device import Precision, frames_per_call, inference
from ..runtime.source import encode_source
from . import ENCODE_PRECISION, AnalysisError
from .display import upscale
from .magnitudes import frame_magnitudes
from .mixer import direction_number

DEFAULT_VALUES = tuple(np.linspace(-3.0, 3.0, 9).round(6).tolist())


def decode_edits(
    model: LIA,
    state: SourceState,
    edits: torch.Tensor | np.ndarray,
    batch_size: int | None = None,
    precision: Precision | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Edits (N, M) applied to an encoded source, z = z_{s->s} + sum_i e_i d_i, and decoded in
    batches -> uint8 (N, S, S, 3)."""
    e = torch.as_tensor(edits, dtype=torch.float32).to(state.latent.device)
    with torch.inference_mode():
        z = model.edit_latent(state, e)  # in float32: only the decodes follow ``precision``
    batch_size = batch_size or frames_per_call(model)
    out = []
    bar = progress_bar(enabled=progress, total=len(z), desc="decoding", unit="image")
    with inference(model, precision):
        for i in range(0, len(z), batch_size):
            out.append(to_uint8(model.decode(state, z[i : i + batch_size])))
            bar.update(len(out[-1]))
    bar.close()
    s = model.config.size
    return np.concatenate(out) if out else np.zeros((0, s, s, 3), np.uint8)


def edit_images(
    model: LIA,
    image,
    edits,
    batch_size: int | None = None,
    precision: Precision | None = None,
    progress: bool = False,
) -> np.ndarray:
    """The source moved along the directions: z = z_{s->s} + sum_i e_i d_i (Fig. 6).

    ``image``: a path, uint8 (H, W, 3) image, tensor or ``SourceState``; ``edits`` one edit (see
    the module notes) or a batch (N, M). Returns uint8 (N, S, S, 3).
    """
    state = encode_source(model, image, precision=ENCODE_PRECISION)
    e = parse_edit(model, edits, batch=True)
    if e is None:
        raise AnalysisError("no edit given (pass M values, or e.g. {1: 0.5})")
    return decode_edits(model, state, e, batch_size, precision, progress)


def edit_image(model: LIA, image, edit, precision: Precision | None = None) -> np.ndarray:
    """One edited image, uint8 (S, S, 3). The headless counterpart of ``DirectionExplorer``."""
    return edit_images(model, image, edit, batch_size=1, precision=precision)[0]


def check_directions(model: LIA, directions: Iterable[int] | None) -> list[int]:
    """0-based direction positions (default: all M), each checked to exist."""
    m = model.config.motion_dim
    dirs = list(range(m)) if directions is None else [int(d) for d in directions]
    bad = [d for d in dirs if not 0 <= d < m]
    if bad:
        raise AnalysisError(
            f"direction index {bad[0]} out of range: this model has {m} (0..{m - 1})"
        )
    if not dirs:
        raise AnalysisError("no directions given")
    return dirs


def direction_labels(m: int, names: Sequence[str] | None = None) -> list[str]:
    """Display names d1..dM (1-based, as in the paper), or the given ones."""
    if names is None:
        return [f"d{i + 1}" for i in range(m)]
    names = [str(n) for n in names]
    if len(names) != m:
        raise AnalysisError(f"expected {m} direction names, got {len(names)}")
    return names


def random_edit(
    m: int, scale: float = 1.0, limit: float = 3.0, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """A random edit e ~ N(0, scale^2) per direction, clipped to +-``limit`` (a slider range)."""
    rng = np.random.default_rng(rng)
    return np.clip(rng.normal(0.0, scale, m), -limit, limit).astype(np.float32)


def sweep_images(
    model: LIA,
    image,
    directions: Iterable[int] | None = None,
    values: Sequence[float] = DEFAULT_VALUES,
    batch_size: int | None = None,
    precision: Precision | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Each direction d_i alone at each magnitude: uint8 (len(directions), len(values), S, S, 3).

    ``directions`` are 0-based positions (default: all M); the source is encoded once and the
    distinct codes among the len(directions) * len(values) are decoded in batches.
    """
    state = encode_source(model, image, precision=ENCODE_PRECISION)
    dirs = check_directions(model, directions)
    vals = np.asarray(values, dtype=np.float32).reshape(-1)
    if vals.size == 0:
        raise AnalysisError("no sweep values given")
    e = np.zeros((len(dirs), vals.size, model.config.motion_dim), np.float32)
    for row, d in enumerate(dirs):
        e[row, :, d] = vals
    # Every direction at magnitude 0 is the same code (z_{s->s}): decode each distinct code once.
    codes, which = np.unique(e.reshape(-1, e.shape[-1]), axis=0, return_inverse=True)
    imgs = decode_edits(model, state, codes, batch_size, precision, progress)[which.reshape(-1)]
    return imgs.reshape(len(dirs), vals.size, *imgs.shape[1:])


def loop_values(hi: float = 3.0, lo: float | None = None, steps: int = 13) -> np.ndarray:
    """Sweep magnitudes 0 -> hi -> lo -> 0 (``lo`` default -hi) that loop without a jump."""
    up = np.linspace(0.0, hi, steps)
    down = -up if lo is None else np.linspace(0.0, lo, steps)
    return np.concatenate([up, up[-2::-1], down[1:], down[-2:0:-1]])


def write_sweep(
    model: LIA,
    image,
    direction: int,
    path: str | os.PathLike,
    values: Sequence[float] | None = None,
    fps: float = 12.0,
    batch_size: int | None = None,
    precision: Precision | None = None,
    base: np.ndarray | None = None,
    min_size: int | None = None,
) -> Path:
    """Write one direction's sweep as a looping GIF or MP4 (by the suffix), atomically.

    The default values go 0 -> +3 -> -3 -> 0 (``loop_values``). ``base`` (M,) is an edit the
    sweep is added to (the explorer's current sliders), zero by default. ``min_size`` enlarges
    the frames (nearest, integer factor) to at least that size.
    """
    from ..io import VideoWriter  # imageio/av only when writing

    state = encode_source(model, image, precision=ENCODE_PRECISION)
    (d,) = check_directions(model, [direction])
    vals = np.asarray(loop_values() if values is None else values, np.float32).reshape(-1)
    e = np.zeros((vals.size, model.config.motion_dim), np.float32)
    if base is not None:
        e += np.asarray(base, np.float32).reshape(1, -1)
    e[:, d] += vals
    frames = decode_edits(model, state, e, batch_size, precision)
    if min_size:
        frames = upscale(frames, min_size)
    with VideoWriter(path, fps=fps) as writer:
        writer.write_many(frames)
    return Path(path)


def motion_from_frame(model: LIA, image, frame) -> np.ndarray:
    """The edit e (M,) that gives a driving frame's motion to the source: e = A_frame - A_s.

    Then z_{s->s} + w(e) = z_{s->r} + w(A_frame), the absolute transfer of eq. 11.
    """
    state = encode_source(model, image, precision=ENCODE_PRECISION)
    frame = np.asarray(frame)
    if frame.ndim != 3:
        raise AnalysisError(f"expected one uint8 (H, W, 3) frame, got shape {frame.shape}")
    alpha = frame_magnitudes(model, frame[None])
    return (alpha[0] - state.alpha[0].float().cpu().numpy()).astype(np.float32)


# ---- edits as people write them ----------------------------------------------------------------


def parse_edit_text(text: str) -> dict[int, float]:
    """``"3=1.5,7=-2"`` -> ``{3: 1.5, 7: -2.0}``: the text form of an edit (1-based directions;
    their range is checked against a model by ``parse_edit``)."""
    edit: dict[int, float] = {}
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            number, offset = int(key), float(value)
        except ValueError:
            raise InputError(
                f"an edit is DIRECTION=VALUE pairs such as 3=1.5, got {item!r}"
            ) from None
        edit[number] = float32(offset, f"the edit {item!r}", InputError)
    return edit


def parse_edit(model: LIA, edit, *, batch: bool = False) -> torch.Tensor | None:
    """An edit as float32 offsets along the directions, (M,) on the CPU; None means no edit.

    ``edit``: a mapping ``{direction: offset}`` (1-based; the others stay 0), the same as text
    ``"3=1.5,7=-2"``, or a sequence/array/tensor of M values. With ``batch=True`` the result is
    (N, M) and an (N, M) array is also taken (one edit per row)."""
    if edit is None:
        return None
    m = model.config.motion_dim
    if isinstance(edit, str):
        edit = parse_edit_text(edit)
    if isinstance(edit, Mapping):
        e = torch.zeros(m)
        for key, value in edit.items():
            i = direction_number(key, m, "edit", InputError)
            e[i - 1] = float32(value, "an edit value", InputError)
    else:
        try:
            if isinstance(edit, torch.Tensor):  # on any device
                e = edit.detach().to("cpu", torch.float32)
            else:
                e = torch.as_tensor(np.asarray(edit, dtype=np.float32))
        except (TypeError, ValueError):
            raise InputError(f"an edit must be numbers, got {type(edit).__name__}") from None
        if batch and e.dim() == 2 and e.shape[1] == m:
            pass
        elif e.numel() != m:
            raise InputError(f"edit needs {m} values (one per direction), got {e.numel()}")
        else:
            e = e.flatten()
    if not torch.isfinite(e).all():
        raise InputError("edit values must be finite numbers")
    if batch and e.dim() == 1:
        e = e[None]
    return e
