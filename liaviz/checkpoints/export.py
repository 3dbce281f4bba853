"""A generator for inference, from a training checkpoint or any model file ``liaviz`` reads.

``export_generator`` writes liaviz's safetensors (weights plus config, what ``liaviz.load_model``
and the explorer open) or the official layout ``{'gen': state_dict}`` (what the official LIA code
loads, for models of the official widths only). ``liaviz export`` is its command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..io.atomic import check_output_folder, guarding_inputs
from ..nn import LIA, LIAConfig
from . import training
from .model import (
    Checkpoint,
    CheckpointError,
    checkpoint_from_torch,
    load_checkpoint,
    model_from,
    read_torch,
    resolve_path,
    save_model,
    save_official,
    sniff_format,
)

FORMATS = ("auto", "safetensors", "official")  # "auto": from the output's extension
WEIGHTS = ("auto", "ema", "raw")  # "auto": EMA when a training checkpoint has it


@dataclass
class Exported:
    """What ``export_generator`` wrote."""

    path: Path
    format: str  # "safetensors" or "official"
    model: LIA
    metadata: dict[str, str]  # where the weights came from

    def summary(self) -> str:
        cfg = self.model.config
        count = sum(p.numel() for p in self.model.parameters())
        origin = ""
        if "step" in self.metadata:
            origin = f", {self.metadata['weights']} weights of step {self.metadata['step']}"
        return (
            f"wrote {self.path} ({self.format}; size {cfg.size}, M={cfg.motion_dim}, "
            f"{count:,} parameters{origin})"
        )


def export_generator(
    source: str | os.PathLike,
    target: str | os.PathLike,
    format: str = "auto",
    weights: str = "auto",
) -> Exported:
    """Write the generator of ``source`` to ``target`` in ``format`` (see ``FORMATS``), taking
    a training checkpoint's EMA or raw weights as ``weights`` says (see ``WEIGHTS``). ``target``
    may not be ``source`` (by any name): that would destroy the checkpoint."""
    target = Path(target)
    if format == "auto":
        format = output_format(target)
    if format not in ("safetensors", "official"):
        raise CheckpointError(f"unknown export format {format!r} (one of {', '.join(FORMATS)})")
    with guarding_inputs(resolve_path(source)):
        check_output_folder(target, CheckpointError)  # before the read: it can take a while
        model, metadata = read_generator(source, weights)
        if format == "safetensors":
            save_model(model, target, metadata)
        else:
            save_official(model, target)
    return Exported(target, format, model, metadata)


def output_format(target: Path) -> str:
    """The format an output file's extension asks for."""
    if target.suffix == ".safetensors":
        return "safetensors"
    if target.suffix in (".pt", ".pth"):
        return "official"
    raise CheckpointError(
        f"{target}: cannot tell the format from the extension: use .safetensors or .pt, "
        "or pass --format"
    )


def read_generator(path: str | os.PathLike, weights: str = "auto") -> tuple[LIA, dict[str, str]]:
    """The generator in a training checkpoint or any checkpoint ``liaviz.load_checkpoint`` reads,
    with metadata saying where it came from."""
    resolved = resolve_path(path)
    if resolved.is_dir():
        raise CheckpointError(f"{resolved}: is a folder, not a checkpoint file")
    if sniff_format(resolved) != "torch":  # safetensors, or no checkpoint (load_checkpoint says)
        return _plain(resolved, load_checkpoint(resolved), weights)
    data = read_torch(resolved)  # once: training checkpoints and official files can be large
    train = training.verified_if_training(resolved, data)
    if train is None:
        return _plain(resolved, checkpoint_from_torch(resolved, data), weights)
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
    state = train["gen_ema"] if use_ema else train["gen"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = model_from(Checkpoint(resolved, training.TRAINING_FORMAT, config, state))
    meta = {
        "source": resolved.name,
        "source_format": training.TRAINING_FORMAT,
        "step": str(train.get("step", "?")),
        "weights": "ema" if use_ema else "raw",
    }
    return model, meta


def _plain(path: Path, ckpt: Checkpoint, weights: str) -> tuple[LIA, dict[str, str]]:
    """A model file that is not a training checkpoint: one set of weights, no EMA."""
    if weights == "ema":
        raise CheckpointError(f"{path}: not a training checkpoint, it holds no EMA weights")
    return model_from(ckpt), {"source": path.name, "source_format": ckpt.format}
