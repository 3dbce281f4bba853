"""LPIPS (Zhang et al., CVPR 2018), AlexNet variant v0.1, from weights the user supplies.

liaviz ships no LPIPS weights and downloads nothing. The metric needs two sets of weights, both
plain state_dicts that ``torch.load(weights_only=True)`` reads:

- the AlexNet backbone, torchvision's ImageNet AlexNet (``alexnet-owt-7be5be79.pth``; keys
  ``features.{0,3,6,8,10}.{weight,bias}``, the classifier is ignored);
- the learned per-channel linear weights, ``weights/v0.1/alex.pth`` of the ``lpips`` package
  (keys ``lin{0..4}.model.1.weight``).

A whole ``lpips.LPIPS(net='alex').state_dict()`` saved to one file (keys ``net.slice{k}.{i}.*``,
``lin{k}.model.1.weight``) works as well. Safetensors files with the same keys are accepted.

The distance (the lpips package's defaults, which LIA's evaluation uses): inputs in [-1, 1] are
shifted and scaled per channel, AlexNet ReLU outputs 1-5 are unit-normalized over channels,
squared differences are weighted per channel by the linear layers, averaged over space and
summed over the five layers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints.model import CheckpointError, read_torch
from ..errors import UserError, first_line

# AlexNet conv layers as (index in torchvision's ``features``, in, out, kernel, stride, padding).
_CONVS = ((0, 3, 64, 11, 4, 2), (3, 64, 192, 5, 1, 2), (6, 192, 384, 3, 1, 1),
          (8, 384, 256, 3, 1, 1), (10, 256, 256, 3, 1, 1))  # fmt: skip
CHANNELS = tuple(c[2] for c in _CONVS)
# lpips's ScalingLayer constants (the ImageNet statistics expressed for [-1, 1] inputs).
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


class LPIPSError(UserError, ValueError):
    """LPIPS weights that are missing, unreadable or of the wrong layout."""


class AlexNetFeatures(nn.Module):
    """The convolutional part of AlexNet; returns the five ReLU outputs LPIPS compares."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(i, o, k, s, p) for _, i, o, k, s, p in _CONVS)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for n, conv in enumerate(self.convs):
            if n in (1, 2):  # max-pool 3x3 / 2 before conv 2 and conv 3
                x = F.max_pool2d(x, kernel_size=3, stride=2)
            x = F.relu(conv(x))
            out.append(x)
        return out


class LPIPS(nn.Module):
    """Learned perceptual distance, AlexNet v0.1. ``LPIPS.from_files(...)`` loads the weights.

    ``forward(a, b)`` takes images (N, 3, H, W) in [-1, 1] and returns the distances (N,).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.net = AlexNetFeatures()
        self.lin = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
        self.requires_grad_(False)
        self.eval()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
            raise ValueError(f"expected two (N, 3, H, W) batches, got {a.shape} and {b.shape}")
        n = a.shape[0]
        feats = self.net(torch.cat([a, b]).float().sub(self.shift).div(self.scale))
        total = torch.zeros(n, device=a.device)
        for f, lin in zip(feats, self.lin, strict=True):
            f = f / (f.square().sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((f[:n] - f[n:]).square()).mean((1, 2, 3))
        return total

    @classmethod
    def from_files(cls, *paths: str | os.PathLike) -> LPIPS:
        """Build from one or two local weight files (see the module notes for the layouts)."""
        if not paths:
            raise LPIPSError("no LPIPS weight files given")
        found: dict[str, torch.Tensor] = {}
        for path in paths:
            found.update(_standard_keys(Path(path), _read_state_dict(Path(path))))
        model = cls()
        expected = model.state_dict()
        missing = [k for k in expected if k not in found]
        if missing:
            parts = []
            if any(k.startswith("net.") for k in missing):
                parts.append("the AlexNet backbone (torchvision alexnet 'features.*' weights)")
            if any(k.startswith("lin.") for k in missing):
                parts.append("the LPIPS linear layers ('lin0.model.1.weight' ... of lpips v0.1)")
            raise LPIPSError(f"{', '.join(str(p) for p in paths)}: missing {' and '.join(parts)}")
        for k, v in expected.items():
            if found[k].shape != v.shape:
                raise LPIPSError(
                    f"LPIPS weight {k} has shape {tuple(found[k].shape)}, expected "
                    f"{tuple(v.shape)} (not AlexNet-LPIPS v0.1 weights?)"
                )
        model.load_state_dict({k: found[k].float() for k in expected})
        return model


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise LPIPSError(f"{path}: no such LPIPS weight file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(path)
        else:  # liaviz's one reader of torch files: tensors and plain data, never other objects
            obj = read_torch(path, allowed=())
    except CheckpointError as e:
        raise LPIPSError(f"{path}: cannot read LPIPS weights: {_reason(e, path)}") from None
    except Exception as e:  # safetensors: bad headers, truncated files
        raise LPIPSError(f"{path}: cannot read LPIPS weights ({first_line(e)})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise LPIPSError(f"{path}: not a state_dict of tensors")
    return obj


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # torch's bold advice in its unpickling errors


def _reason(e: CheckpointError, path: Path) -> str:
    """What is wrong with a torch file, in a phrase: its first sentence, without the path, the
    terminal codes, or torch's advice on how to load it anyway (never taken here)."""
    text = _ANSI.sub("", str(e)).removeprefix(f"{path}: ").replace("checkpoint", "file")
    unsafe = re.search(r"GLOBAL ([\w.]+)", text)
    if unsafe:
        return f"it holds objects other than tensors ({unsafe.group(1)}), never unpickled here"
    sentence = text.split(". ")[0]
    return sentence + ")" * (sentence.count("(") - sentence.count(")"))


_TORCHVISION = re.compile(r"(?:module\.)?features\.(\d+)\.(weight|bias)")
_LPIPS_NET = re.compile(r"(?:module\.)?net\.slice\d\.(\d+)\.(weight|bias)")
_LPIPS_LIN = re.compile(r"(?:module\.)?lin(\d)\.(?:model\.1\.)?weight")


def _standard_keys(path: Path, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map torchvision / lpips key names to this module's names; other keys are ignored."""
    index_to_conv = {c[0]: n for n, c in enumerate(_CONVS)}
    out = {}
    for key, value in state.items():
        m = _TORCHVISION.fullmatch(key) or _LPIPS_NET.fullmatch(key)
        if m and int(m.group(1)) in index_to_conv:
            out[f"net.convs.{index_to_conv[int(m.group(1))]}.{m.group(2)}"] = value
            continue
        m = _LPIPS_LIN.fullmatch(key)
        if m and int(m.group(1)) < len(CHANNELS):
            out[f"lin.{m.group(1)}.weight"] = value
    if not out:
        sample = ", ".join(list(state)[:3]) or "no tensors"
        raise LPIPSError(
            f"{path}: holds neither AlexNet nor LPIPS linear weights (found {sample}, ...)"
        )
    return out
