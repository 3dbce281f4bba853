"""Loading and saving LIA generators: liaviz safetensors files and official LIA ``.pt`` files.

Nothing here unpickles arbitrary objects: ``.pt`` files go through ``torch.load(weights_only=True)``
with ``argparse.Namespace`` as the only extra type allowed (official training checkpoints hold
their arguments in one). Every failure is a ``CheckpointError`` with a one-line message.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..errors import UserError, first_line
from ..io.atomic import atomic_output
from ..nn import LIA, LIAConfig
from ..plain_data import NotPlainData, check_plain

MODEL_FORMAT = "liaviz"
MODEL_FORMAT_VERSION = "1"
PRETRAINED_DIR = Path(__file__).parent / "pretrained"
# The embedded default, by its versioned file name; the stable alias EMBEDDED loads it whatever
# its size, so code and docs that say "embedded" follow it when a better model ships.
EMBEDDED = "embedded"
EMBEDDED_DEFAULT = "synthetic-faces-64-v4"
# Keys whose presence identifies a LIA generator state_dict.
_SIGNATURE_KEYS = ("enc.net_app.convs.0.0.weight", "dec.input.input", "enc.fc.0.weight")
# The safetensors library refuses headers over 100 MB; no longer one is a safetensors file.
_MAX_SAFETENSORS_HEADER = 100_000_000


class CheckpointError(UserError, ValueError):
    """A checkpoint could not be read or does not fit; the message says why in one line."""


@dataclass
class Checkpoint:
    """A generator state_dict with its architecture and where it came from."""

    path: Path
    format: str  # "liaviz-safetensors", "official", "official-training" or "state_dict"
    config: LIAConfig
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, str] = field(default_factory=dict)
    other_keys: list[str] = field(default_factory=list)  # e.g. 'dis', 'g_optim' in training files


def pretrained_names() -> list[str]:
    """Names of the models that ship inside the package (usable wherever a path is)."""
    return sorted(p.name.removesuffix(".safetensors") for p in PRETRAINED_DIR.glob("*.safetensors"))


def resolve_path(name_or_path: str | os.PathLike) -> Path:
    """A file path, or the bundled file for a pretrained name such as ``synthetic-faces-64-v4``, or
    ``"embedded"`` for the embedded default. A file of that name, if one exists, wins; a folder
    does not (no folder is a checkpoint: an ``embedded/`` in the working directory hid the
    bundled model)."""
    path = Path(name_or_path).expanduser()
    name = EMBEDDED_DEFAULT if str(name_or_path) == EMBEDDED else name_or_path
    bundled = PRETRAINED_DIR / f"{name}.safetensors"
    if path.exists() and not (path.is_dir() and bundled.is_file()):
        return path
    if bundled.is_file():
        return bundled
    known = ", ".join(pretrained_names()) or "none in this install"
    if (PRETRAINED_DIR / f"{EMBEDDED_DEFAULT}.safetensors").exists():
        known += f"; {EMBEDDED} = {EMBEDDED_DEFAULT}"
    raise CheckpointError(f"{name_or_path}: no such file, and not a bundled model name ({known})")


def save_model(model: LIA, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write the generator as safetensors with its config in the metadata. Atomic: the file is
    written next to the target and renamed, so an interrupted save never leaves a partial file."""
    tensors = _float32_state(model)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta.update(
        format=MODEL_FORMAT,
        format_version=MODEL_FORMAT_VERSION,
        config=json.dumps(model.config.to_dict()),
    )
    with atomic_output(path, error=CheckpointError) as tmp:
        save_file(tensors, tmp, metadata=meta)
    return Path(path)


def save_official(model: LIA, path: str | os.PathLike) -> Path:
    """Write ``{'gen': state_dict}`` as the official LIA code loads it, atomically. Only a model
    of the official widths fits that code; any other is a ``CheckpointError``."""
    cfg = model.config
    if not cfg.is_official_width:
        raise CheckpointError(
            f"{path}: the official layout needs the official widths (latent 512, channels "
            f"512..64, 4 motion layers, a motion dictionary); this model has latent "
            f"{cfg.latent_dim}, channel_multiplier {cfg.channel_multiplier}, channel_max "
            f"{cfg.channel_max}, motion_layers {cfg.motion_layers}, motion_dictionary "
            f"{cfg.motion_dictionary}: export to .safetensors instead"
        )
    with atomic_output(path, error=CheckpointError) as tmp:
        torch.save({"gen": _float32_state(model)}, tmp)
    return Path(path)


def _float32_state(model: LIA) -> dict[str, torch.Tensor]:
    """The weights as files hold them: float32, contiguous, on the CPU."""
    return {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()
    }


def load_checkpoint(name_or_path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint (liaviz safetensors, official ``{'gen': ...}`` .pt, or a bare state_dict)."""
    path = resolve_path(name_or_path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    kind = sniff_format(path)
    if kind == "torch":
        return _load_torch(path)
    if kind == "safetensors":
        return _load_safetensors(path)
    raise CheckpointError(
        f"{path}: not a checkpoint (neither a torch .pt archive nor a safetensors file)"
    )


def sniff_format(path: str | os.PathLike) -> str | None:
    """``"safetensors"``, ``"torch"`` or None, from the bytes (never from the name).

    safetensors: a little-endian u64 header length n, then n bytes of JSON holding an object,
    all within the file. Checked first and by parsing: the header length's low byte can be
    anything, 0x80 included. torch: a zip archive (``PK``), or a legacy pickle (0x80)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) == 8:
                n = int.from_bytes(head, "little")
                if 2 <= n <= size - 8 and n <= _MAX_SAFETENSORS_HEADER:
                    try:
                        header = json.loads(f.read(n))
                    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                        header = None
                    if isinstance(header, dict):
                        return "safetensors"
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror or e})") from None
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return "torch"
    return None


def load_model(
    name_or_path: str | os.PathLike,
    device: str | torch.device | None = None,
    size: int | None = None,
    motion_dim: int | None = None,
) -> LIA:
    """Build a LIA from a checkpoint file or bundled name, in eval mode.

    ``size`` / ``motion_dim``, when given, must match the checkpoint (a clear error otherwise).
    """
    ckpt = load_checkpoint(name_or_path)
    cfg = ckpt.config
    # name only what was asked and differs (0 is asked too, not "nothing asked")
    asked = (("size", size, cfg.size), ("M", motion_dim, cfg.motion_dim))
    wrong = [f"{name}={value!r}" for name, value, have in asked if value not in (None, have)]
    if wrong:
        raise CheckpointError(
            f"{ckpt.path}: this is a size-{cfg.size}, M={cfg.motion_dim} model, but "
            f"{', '.join(wrong)} was asked for"
        )
    return model_from(ckpt).to(device or "cpu").eval()


# ---- internals ----------------------------------------------------------------------------------


def _load_torch(path: Path) -> Checkpoint:
    from . import training  # it reads torch files with read_torch, from here

    data = read_torch(path)
    training.verified_if_training(path, data)  # a changed bit is no model to run
    return checkpoint_from_torch(path, data)


def read_torch(path: Path, allowed: Sequence[type] = (argparse.Namespace,)) -> Any:
    """The contents of a torch file (``.pt``, ``.pth``), read with ``weights_only=True``: tensors
    and plain data, plus the ``allowed`` classes (official checkpoints hold an
    ``argparse.Namespace``). Anything else is a ``CheckpointError``, never unpickled; so is a
    truncated or corrupt file. The one reader of torch files in liaviz."""
    try:
        # from an open file: torch 2.13 sends a path named *.safetensors to the safetensors
        # loader; warnings about odd pickle protocols of a corrupt file are noise here
        with (
            torch.serialization.safe_globals(list(allowed)),
            open(path, "rb") as f,
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            obj = torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        unsafe = next((x for x in lines if "Unsupported global" in x or "GLOBAL" in x), None)
        if unsafe is None:  # e.g. "Unsupported operand": bytes that are no pickle at all
            reason = next((x for x in lines if x.startswith("Unsupported")), None)
            reason = reason or (lines[0] if lines else type(e).__name__)
            raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({reason})") from None
        raise CheckpointError(
            f"{path}: refused to unpickle, the file holds objects other than tensors "
            f"(it could run code when loaded): {unsafe}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, SafetensorError) as e:
        raise CheckpointError(
            f"{path}: truncated or corrupt checkpoint ({first_line(e)})"
        ) from None
    return obj


def checkpoint_from_torch(path: Path, obj: Any) -> Checkpoint:
    """A ``Checkpoint`` from what ``read_torch`` read: ``{'gen': state_dict, ...}`` (official
    files, liaviz training checkpoints) or a bare state_dict."""
    fmt = "state_dict"
    other: list[str] = []
    if isinstance(obj, dict) and "gen" in obj:
        other = [str(k) for k in obj if k != "gen"]
        fmt = "official-training" if {"dis", "g_optim"} & set(obj) else "official"
        state = obj["gen"]
    else:
        state = obj
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        keys = list(obj)[:5] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(
            f"{path}: not a LIA checkpoint: expected {{'gen': state_dict}} or a state_dict, "
            f"found {keys}"
        )
    state = {k.removeprefix("module."): v for k, v in state.items()}  # DDP-saved files
    config = _config_from_state_dict(path, state)
    meta = {}
    if isinstance(obj, dict) and isinstance(obj.get("args"), argparse.Namespace):
        try:  # bounded first: json.dumps walks it recursively, shared parts once per reference
            check_plain(obj["args"], "its 'args'")
        except NotPlainData as e:
            raise CheckpointError(f"{path}: {e}") from None
        meta["args"] = json.dumps(vars(obj["args"]), default=str)
    return Checkpoint(path, fmt, config, state, meta, other)


def _load_safetensors(path: Path) -> Checkpoint:
    try:
        state = load_file(path)
        with safe_open(path, framework="pt") as f:
            meta = dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: truncated or corrupt safetensors file ({e})") from None
    if "config" in meta:
        try:
            data = json.loads(meta["config"])
            check_plain(data, "the config", max_depth=2)
            config = LIAConfig.from_dict(data)
        except (ValueError, TypeError, RecursionError) as e:
            raise CheckpointError(f"{path}: invalid config in metadata ({first_line(e)})") from None
    else:
        config = _config_from_state_dict(path, state)
    return Checkpoint(path, "liaviz-safetensors", config, state, meta)


def _config_from_state_dict(path: Path, state: dict[str, torch.Tensor]) -> LIAConfig:
    """Recover the architecture from tensor shapes (official files carry no config)."""
    missing = [k for k in _SIGNATURE_KEYS if k not in state]
    if missing:
        sample = ", ".join(list(state)[:3]) or "no tensors"
        raise CheckpointError(
            f"{path}: not a LIA generator: missing {', '.join(missing)} (found {sample}, ...)"
        )
    levels = sum(1 for k in state if re.fullmatch(r"dec\.to_flows\.\d+\.bias", k))
    fc_layers = sum(1 for k in state if re.fullmatch(r"enc\.fc\.\d+\.weight", k))
    fc_out = state[f"enc.fc.{fc_layers - 1}.weight"].shape[0]
    latent_dim = state["enc.fc.0.weight"].shape[1]
    size = 2 ** (levels + 2)
    if "dec.direction.weight" in state:
        motion_dim, dictionary = state["dec.direction.weight"].shape[1], True
    elif fc_out != latent_dim:  # without a dictionary the motion MLP ends in latent_dim codes
        raise CheckpointError(
            f"{path}: not a LIA generator of this layout: missing keys dec.direction.weight "
            f"(its motion encoder gives {fc_out} codes: a motion dictionary turns them into "
            f"{latent_dim}-d latents)"
        )
    else:
        motion_dim, dictionary = fc_out, False
    finest = state["enc.net_app.convs.0.0.weight"].shape[0]
    try:
        return LIAConfig(
            size=size,
            latent_dim=latent_dim,
            motion_dim=motion_dim,
            channel_multiplier=finest / LIAConfig.base_channels(size),
            channel_max=state["dec.input.input"].shape[1],
            motion_layers=fc_layers - 1,
            motion_dictionary=dictionary,
        )
    except ValueError as e:
        raise CheckpointError(f"{path}: tensor shapes describe no valid LIA ({e})") from None


def model_from(ckpt: Checkpoint) -> LIA:
    """A LIA of the checkpoint's config holding its weights, once ``check_fits`` passes: the
    file's tensors, not its config's claims, decide how much memory the model takes."""
    check_fits(ckpt, shape_model(ckpt.config))
    model = LIA(ckpt.config)
    model.load_state_dict(ckpt.state_dict)
    return model


def shape_model(config: LIAConfig) -> LIA:
    """A LIA of ``config`` on the meta device: its parameters' shapes without their memory."""
    with torch.device("meta"):
        return LIA(config)


def check_fits(ckpt: Checkpoint, model: LIA) -> None:
    """Raise ``CheckpointError`` unless the weights fit ``model`` (built from the checkpoint's own
    config) key for key and shape, and are all finite (NaN weights would decode to a black
    video)."""
    cfg, expected = ckpt.config, model.state_dict()
    state = ckpt.state_dict
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {_first(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_first(unexpected)}")
        raise CheckpointError(
            f"{ckpt.path}: not a LIA generator of this layout: {'; '.join(parts)}"
        )
    bad = [k for k in expected if expected[k].shape != state[k].shape]
    if bad:
        k = bad[0]
        raise CheckpointError(
            f"{ckpt.path}: this looks like a size-{cfg.size}, M={cfg.motion_dim} model but "
            f"{len(bad)} tensor(s) have other shapes, e.g. {k}: {tuple(state[k].shape)} in the "
            f"file, {tuple(expected[k].shape)} expected"
        )
    bad = [k for k in expected if state[k].is_floating_point() != expected[k].is_floating_point()]
    if bad:  # load_state_dict would round them silently into weights no training made
        kinds = sorted({str(state[k].dtype).removeprefix("torch.") for k in bad})
        raise CheckpointError(
            f"{ckpt.path}: {len(bad)} tensor(s) hold {'/'.join(kinds)} values where weights are "
            f"floating point, e.g. {_first(bad)}"
        )
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(
            f"{ckpt.path}: {len(bad)} tensor(s) hold NaN or infinite weights, e.g. {_first(bad)}"
        )


def _first(keys: list[str], n: int = 3) -> str:
    more = f" (and {len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def describe(ckpt: Checkpoint) -> dict[str, Any]:
    """A summary for ``liaviz info``: config, parameter counts and provenance. A file that
    ``load_model`` would refuse (keys, shapes or values that do not fit) raises the same error."""
    model = shape_model(ckpt.config)
    check_fits(ckpt, model)
    counts = {
        "encoder (appearance)": _count(model.enc.net_app),
        "motion MLP": _count(model.enc.fc),
        "motion dictionary": _count(model.dec.direction),
        "decoder": _count(model.dec) - _count(model.dec.direction),
    }
    counts["total"] = sum(counts.values())
    return {
        "path": str(ckpt.path),
        "format": ckpt.format,
        "config": ckpt.config.to_dict(),
        "official_widths": ckpt.config.is_official_width,
        "parameters": counts,
        "metadata": {k: v for k, v in ckpt.metadata.items() if k != "config"},
        "other_keys": ckpt.other_keys,
    }


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
