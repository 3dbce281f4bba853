"""`liaviz export INPUT OUTPUT`: a generator for inference from a training checkpoint or model file.

INPUT is a liaviz training checkpoint (``RUN/checkpoints/ckpt_*.pt``), a liaviz ``.safetensors``
model or an official LIA ``.pt``. OUTPUT ending in ``.safetensors`` gets liaviz's format (weights
plus config, what ``liaviz.load_model`` and the explorer open); ending in ``.pt`` it gets the
official layout ``{'gen': state_dict}``, which the official LIA code loads, possible only for
models of the official widths.
"""

from __future__ import annotations

import argparse
import os
import pickle
import zipfile
from pathlib import Path

import torch

from ..atomic import atomic_output
from ..checkpoint import CheckpointError, load_checkpoint, resolve_path, save_model
from ..nn import LIA, LIAConfig

TRAIN_FORMAT = "liaviz-train"  # written by train/train.py


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a generator for inference (liaviz safetensors or official .pt)",
        description=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("input", help="training checkpoint, liaviz .safetensors or official .pt")
    p.add_argument("output", help="OUTPUT.safetensors (liaviz) or OUTPUT.pt (official layout)")
    p.add_argument(
        "--format",
        choices=("auto", "safetensors", "official"),
        default="auto",
        help="output layout (default: from the output's extension)",
    )
    p.add_argument(
        "--weights",
        choices=("auto", "ema", "raw"),
        default="auto",
        help="from a training checkpoint: the EMA generator or the trained one "
        "(default: EMA when the checkpoint has it)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model, metadata = read_generator(args.input, args.weights)
    out = Path(args.output)
    fmt = args.format
    if fmt == "auto":
        if out.suffix == ".safetensors":
            fmt = "safetensors"
        elif out.suffix in (".pt", ".pth"):
            fmt = "official"
        else:
            raise CheckpointError(
                f"{out}: cannot tell the format from the extension: use .safetensors or .pt, "
                "or pass --format"
            )
    if fmt == "safetensors":
        save_model(model, out, metadata)
    else:
        save_official(model, out)
    cfg = model.config
    print(
        f"wrote {out} ({fmt}; size {cfg.size}, M={cfg.motion_dim}, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters"
        + (
            f", {metadata['weights']} weights of step {metadata['step']}"
            if "step" in metadata
            else ""
        )
        + ")"
    )
    return 0


def read_generator(path: str | os.PathLike, weights: str = "auto") -> tuple[LIA, dict[str, str]]:
    """The generator in a training checkpoint or any checkpoint ``liaviz.load_checkpoint`` reads,
    with metadata saying where it came from."""
    resolved = resolve_path(path)
    train = _read_training_checkpoint(resolved)
    if train is None:
        if weights == "ema":
            raise CheckpointError(f"{resolved}: not a training checkpoint, it holds no EMA weights")
        ckpt = load_checkpoint(resolved)
        model = LIA(ckpt.config)
        _load(model, ckpt.state_dict, resolved)
        return model, {"source": resolved.name, "source_format": ckpt.format}
    try:
        config = LIAConfig.from_dict(train["model_config"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(
            f"{resolved}: training checkpoint without a valid config ({e})"
        ) from None
    has_ema = isinstance(train.get("gen_ema"), dict)
    if weights == "ema" and not has_ema:
        raise CheckpointError(f"{resolved}: this run kept no EMA generator (ema.enabled was false)")
    use_ema = has_ema and weights != "raw"
    model = LIA(config)
    _load(model, train["gen_ema"] if use_ema else train["gen"], resolved)
    meta = {
        "source": resolved.name,
        "source_format": TRAIN_FORMAT,
        "step": str(train.get("step", "?")),
        "weights": "ema" if use_ema else "raw",
    }
    return model, meta


def save_official(model: LIA, path: str | os.PathLike) -> Path:
    """``torch.save({'gen': state_dict})`` as the official LIA code expects, atomically."""
    path = Path(path)
    cfg = model.config
    if not cfg.is_official_width:
        raise CheckpointError(
            f"{path}: the official layout needs the official widths (latent 512, channels "
            f"512..64, 4 motion layers, a motion dictionary); this model has latent "
            f"{cfg.latent_dim}, channel_multiplier {cfg.channel_multiplier}, channel_max "
            f"{cfg.channel_max}, motion_layers {cfg.motion_layers}, motion_dictionary "
            f"{cfg.motion_dictionary}: export to .safetensors instead"
        )
    if not path.parent.is_dir():
        raise CheckpointError(f"{path}: folder {path.parent} does not exist")
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()
    }
    with atomic_output(path) as tmp:
        torch.save({"gen": state}, tmp)
    return path


def _read_training_checkpoint(path: Path) -> dict | None:
    """The contents of a liaviz training checkpoint, or None for any other file."""
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    with open(path, "rb") as f:
        if f.read(2) != b"PK":  # torch zip archives; safetensors and others go elsewhere
            return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        return None  # e.g. an official training file with its argparse.Namespace
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({first})") from None
    if isinstance(data, dict) and data.get("format") == TRAIN_FORMAT:
        return data
    return None


def _load(model: LIA, state: dict, path: Path) -> None:
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: generator weights do not fit its config ({first})"
        ) from None
