"""A run's state: the models and optimizers a checkpoint holds, saving them (a collective over
all processes), resuming them, exporting the generator, and what belongs to a run folder.

The checkpoint file format itself is ``liaviz.checkpoints.training``.
"""

from __future__ import annotations

import os
import random
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather_object

from ..checkpoints.model import save_model
from ..checkpoints.training import (
    CorruptCheckpoint,
    digest,
    list_checkpoints,
    load_training_checkpoint,
    save_checkpoint,
)
from ..errors import UserError
from ..nn import LIA, LIAConfig
from ..nn.discriminator import Discriminator

# What a run writes into its folder: --overwrite deletes these (and nothing else). config.yaml,
# written first, is the run's manifest: a folder without one holds no run to overwrite.
MANIFEST = "config.yaml"
RUN_FILES = (MANIFEST, "log.jsonl", "generator.safetensors", "EXPORT")
# per folder, the names the run writes there (tensorboard/ is Accelerate's, all of it)
RUN_FOLDERS = {
    "checkpoints": ("ckpt_*.pt", "ckpt_*.pt.corrupt", ".ckpt_*.pt.*.partial*"),
    "samples": ("step_*.png", ".step_*.png.*.partial*"),
    "tensorboard": ("*",),
}


@dataclass
class TrainingState:
    """What the loop changes from step to step, and what a checkpoint holds."""

    G: LIA  # the generator being trained (not wrapped for DDP)
    D: Discriminator  # the critic (not wrapped)
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    ema: LIA | None  # the moving average of G, when ema.enabled
    step: int = 0  # optimizer steps done
    nonfinite_steps: int = 0  # steps skipped for a non-finite loss, over the whole run

    def update_ema(self, decay: float) -> None:
        if self.ema is None:
            return
        with torch.no_grad():
            for pe, p in zip(self.ema.parameters(), self.G.parameters(), strict=True):
                pe.lerp_(p.detach(), 1.0 - decay)

    def restore(
        self, path: Path, ckpt: dict[str, Any], scaler: Any, rank: int, world: int, say: Callable
    ) -> None:
        """Load a checkpoint's weights, optimizer states, step, counters and this rank's RNG.
        Contents that do not fit this run (a digest proves only that they were not changed
        after writing) and a generator that is no longer finite are one-line ``UserError``s."""
        try:
            self._restore(ckpt, scaler, rank, world, say)
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            reason = " ".join(str(e).split())[:300] or type(e).__name__
            raise UserError(f"{path}: cannot resume from it ({reason})") from None
        models = [m for m in (self.G, self.ema) if m is not None]
        if not all(torch.isfinite(p).all() for m in models for p in m.parameters()):
            raise UserError(
                f"{path}: its generator holds NaN or infinite weights, so every update would be "
                "skipped: resume from an earlier checkpoint (--resume FILE)"
            )

    def _restore(self, ckpt: dict[str, Any], scaler: Any, rank: int, world: int, say) -> None:
        self.G.load_state_dict(ckpt["gen"])
        self.D.load_state_dict(ckpt["dis"])
        self.g_opt.load_state_dict(ckpt["g_optim"])
        self.d_opt.load_state_dict(ckpt["d_optim"])
        if self.ema is not None:
            if "gen_ema" in ckpt:
                self.ema.load_state_dict(ckpt["gen_ema"])
            else:
                self.ema.load_state_dict(self.G.state_dict())
                say("the checkpoint has no EMA generator: it starts from G")
        if scaler is not None and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        self.step = int(ckpt["step"])
        self.nonfinite_steps = int(ckpt.get("counters", {}).get("nonfinite_steps", 0))
        ranks = ckpt["rng"]
        if len(ranks) == world:
            set_rng_state(ranks[rank])
        else:
            say(f"saved with {len(ranks)} process(es), now {world}: RNG not restored")

    def payload(self, scaler: Any, config: dict, model_config: LIAConfig, rng: list) -> dict:
        """The checkpoint's contents (``liaviz.checkpoints.training`` adds format, step and digest)."""
        payload: dict[str, Any] = {
            "gen": self.G.state_dict(),
            "dis": self.D.state_dict(),
            "g_optim": self.g_opt.state_dict(),
            "d_optim": self.d_opt.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "config": config,
            "model_config": model_config.to_dict(),
            "rng": rng,
            "counters": {"nonfinite_steps": self.nonfinite_steps},
        }
        if self.ema is not None:
            payload["gen_ema"] = self.ema.state_dict()
        return payload


def save(
    accelerator, state: TrainingState, folder: Path, config: dict, keep: int, log
) -> Path | None:
    """Write a checkpoint on the main process; every rank contributes its RNG state. A
    collective: all ranks call it. Each rank also sends a digest of its weights, so a checkpoint
    is only written when the processes really hold the same model."""
    weights = {"gen": state.G.state_dict(), "dis": state.D.state_dict()}
    ranks = gather_object([{"rng": rng_state(), "step": state.step, "weights": digest(weights)}])
    path = None
    if accelerator.is_main_process:
        digests = {r["weights"] for r in ranks}
        if len(digests) != 1 or any(r["step"] != state.step for r in ranks):
            raise RuntimeError(
                f"step {state.step}: the {len(ranks)} processes hold different models"
            )
        rng = [r["rng"] for r in ranks]
        payload = state.payload(accelerator.scaler, config, state.G.config, rng)
        path = save_checkpoint(folder, state.step, payload, keep)
        if log is not None:
            log.event(
                state.step,
                f"checkpoint {path.name}: {len(ranks)} process(es) in sync, "
                f"weights sha256 {digests.pop()[:16]}",
            )
    accelerator.wait_for_everyone()
    return path


def export(state: TrainingState, out: Path) -> Path:
    """generator.safetensors for liaviz.load_model: the EMA generator when there is one."""
    model = state.ema if state.ema is not None else state.G
    metadata = {
        "step": str(state.step),
        "weights": "ema" if state.ema is not None else "raw",
        "producer": "liaviz train/train.py",
    }
    return save_model(model, out / "generator.safetensors", metadata)


def is_run_folder(out: Path) -> bool:
    """Whether ``out`` holds a run (its manifest, ``config.yaml``), what --overwrite replaces."""
    return (out / MANIFEST).is_file()


def clear_run(out: Path) -> None:
    """--overwrite: delete what a previous run wrote into ``out`` (by name), nothing else: a
    user's own files there stay, and so does a folder that still holds some."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name, patterns in RUN_FOLDERS.items():
        folder = out / name
        if not folder.is_dir() or folder.is_symlink():
            continue
        for pattern in patterns:
            for p in folder.glob(pattern):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink(missing_ok=True)
        if not any(folder.iterdir()):
            folder.rmdir()


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
        return path, resumable(path, load_training_checkpoint(path))
    found = list_checkpoints(folder)
    for _, path in found:
        try:
            return path, resumable(path, load_training_checkpoint(path))
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


# what a checkpoint to resume from must hold, by type ('gen_ema', 'scaler', 'counters' may lack)
RESUME_KEYS = {"gen": dict, "dis": dict, "g_optim": dict, "d_optim": dict, "config": dict,
               "rng": list, "step": int}  # fmt: skip


def resumable(path: Path, ckpt: dict[str, Any]) -> dict[str, Any]:
    """``ckpt`` when it holds what a resume reads, of the right types (its config sections too);
    otherwise ``CorruptCheckpoint`` naming the first thing that is wrong."""
    for key, kind in RESUME_KEYS.items():
        value = ckpt.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            found = "nothing" if key not in ckpt else f"a {type(value).__name__}"
            raise CorruptCheckpoint(
                f"{path}: not a checkpoint to resume from: {key!r} should be a "
                f"{kind.__name__}, it holds {found}"
            )
    if ckpt["step"] < 0 or not all(isinstance(v, dict) for v in ckpt["config"].values()):
        raise CorruptCheckpoint(f"{path}: not a checkpoint to resume from: bad step or config")
    return ckpt


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
