"""The official LIA code, from a checkout you provide, for side-by-side timing (never shipped).

    --official-code /path/to/LIA     # a clone of github.com/wyhsirius/LIA (CC BY-NC)

Its ``Generator`` is built at the same size, given the liaviz model's weights (the parameter names
are the official ones) and timed at its demo's per-frame step: ``gen(source, frame, h_start)``,
batch 1, which re-encodes the source for every frame. Its ``.cuda()`` calls become no-ops so it
runs on the CPU.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import torch
from _machine import best_time

from liaviz import LIA


def load_official(code: Path, model: LIA) -> torch.nn.Module:
    if not (Path(code) / "networks" / "generator.py").exists():
        raise SystemExit(f"{code}: not a checkout of the official LIA code (no networks/)")
    sys.path.insert(0, str(code))
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # its ToFlow calls .cuda() per call
    generator = importlib.import_module("networks.generator").Generator
    cfg = model.config
    width = cfg.channel_multiplier
    width = int(width) if float(width).is_integer() else width  # its channel table wants ints
    gen = generator(cfg.size, cfg.latent_dim, cfg.motion_dim, width).eval()
    missing, unexpected = gen.load_state_dict(model.state_dict(), strict=False)
    if missing or unexpected:
        raise SystemExit(f"official model keys differ: {missing[:3]} {unexpected[:3]}")
    return gen.requires_grad_(False)


def official_step_s(gen: torch.nn.Module, size: int, repeats: int) -> float:
    """Seconds of one official demo step (source re-encoded, one driving frame, decode)."""
    source = torch.rand(1, 3, size, size) * 2 - 1
    frame = torch.rand(1, 3, size, size) * 2 - 1
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecated torch.qr and grid_sample defaults
        h_start = gen.enc.enc_motion(frame)
        return best_time(lambda: gen(source, frame, h_start), repeats)
