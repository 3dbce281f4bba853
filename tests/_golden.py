"""The golden files' conventions (shared/reference/README.md): their weights and input scaling.

Shared by the golden tests and ``benchmarks/bench_gpu.py``; importing this has no side effects.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

from liaviz import LIA

# Tolerances from shared/reference/README.md: a faithful port is ~1e-5 mean, a few 1e-3 max.
MEAN_TOL = 5e-5
MAX_TOL = 5e-3


def deterministic_official_weights(model: LIA) -> dict[str, torch.Tensor]:
    """The weights the golden files were made with (see shared/reference/README.md)."""
    weights = {}
    for key, tensor in model.state_dict().items():
        if key.endswith("kernel"):
            weights[key] = tensor.clone()
            continue
        rng = np.random.RandomState(zlib.crc32(key.encode("utf-8")))
        value = torch.from_numpy(rng.standard_normal(tensor.numel()).astype(np.float32))
        value = value.reshape(tensor.shape)
        if key.endswith("bias"):
            value = value * 0.1
        if key.endswith("modulation.bias"):
            value = value + 1.0
        weights[key] = value
    return weights


def u8_to_tensor(u8: torch.Tensor) -> torch.Tensor:
    """(H,W,3) or (T,H,W,3) uint8 -> (T,3,H,W) float32 in [-1, 1], as the golden files define."""
    if u8.dim() == 3:
        u8 = u8[None]
    return ((u8.float() / 255.0 - 0.5) * 2.0).permute(0, 3, 1, 2).contiguous()
