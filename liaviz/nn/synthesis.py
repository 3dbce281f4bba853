"""LIA's decoder G: a StyleGAN2-style generator that turns a latent code into a pyramid of flow
fields and masks, warps the source's appearance features with them, and refines them to RGB."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import LIAConfig
from .layers import (
    ConstantInput,
    EqualConv2d,
    FusedLeakyReLU,
    ModulatedConv2d,
    StyledConv,
    Upsample,
)
from .motion import IdentityPath, MotionDictionary


def identity_grid(resolution: int) -> torch.Tensor:
    """(1, r, r, 2) sampling grid in [-1, 1]; [..., 0] is x (width), [..., 1] is y (height)."""
    axis = torch.linspace(-1.0, 1.0, resolution)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack((x, y), dim=-1)[None]


class ToRGB(nn.Module):
    """1x1 conv + activation on the warped features, plus the upsampled coarser RGB."""

    def __init__(self, in_channels: int, upsample: bool = True) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = nn.Sequential(EqualConv2d(in_channels, 3, 1, bias=False), FusedLeakyReLU(3))
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x) + self.bias
        return out if skip is None else out + self.upsample(skip)


@dataclass
class FlowOutput:
    """One level of the flow pyramid: the warped features and what produced them."""

    warped: torch.Tensor  # grid_sample(features, flow) * mask
    merged: torch.Tensor | None  # warped + x * (1 - mask): the next level's input (None: unasked)
    logits: torch.Tensor  # raw (B, 3, r, r) outputs, accumulated across scales
    flow: torch.Tensor  # (B, r, r, 2) absolute sampling positions in [-1, 1]
    mask: torch.Tensor  # (B, 1, r, r) in (0, 1)


class ToFlow(nn.Module):
    """Modulated 1x1 conv -> flow (2 channels, tanh) and mask (1 channel, sigmoid); warps features.

    The raw logits accumulate across scales (the coarser level's, upsampled, are added) before the
    nonlinearities, as in the official model.
    """

    def __init__(self, in_channels: int, style_dim: int, resolution: int) -> None:
        super().__init__()
        self.upsample = Upsample()
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.register_buffer("grid", identity_grid(resolution), persistent=False)

    def forward(
        self,
        x: torch.Tensor,
        style: torch.Tensor,
        features: torch.Tensor,
        skip: torch.Tensor | None = None,
        merge: bool = True,
    ) -> FlowOutput:
        """``merge=False`` skips the blend that only a next level would read (the finest has none)."""
        logits = self.conv(x, style) + self.bias
        if skip is not None:
            logits = logits + self.upsample(skip)
        # Sampling positions need float32 even under autocast: in bfloat16 a coordinate near 1.0
        # is only good to 1/128, a quarter pixel at 64x64 and two pixels at 256x256.
        with torch.autocast(x.device.type, enabled=False):
            logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
            flow = torch.tanh(logits[:, :2]).permute(0, 2, 3, 1) + self.grid.to(logits.dtype)
            mask = torch.sigmoid(logits[:, 2:3])
            # align_corners=False makes a zero flow a slight zoom, as the checkpoints expect
            sampled = F.grid_sample(
                features.to(flow.dtype), flow, "bilinear", "zeros", align_corners=False
            )
            # in x's layout (channels-last after an upsampling conv): mixed layouts make the
            # blends below strided, several times slower than the sampling itself
            sampled = sampled.contiguous(memory_format=_layout(x))
            warped = sampled * mask
            merged = torch.addcmul(warped, x.to(mask.dtype), 1 - mask) if merge else None
        return FlowOutput(warped, merged, logits, flow, mask)


def _layout(x: torch.Tensor) -> torch.memory_format:
    cl = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if cl else torch.contiguous_format


@dataclass
class SynthesisOutput:
    image: torch.Tensor
    flows: list[torch.Tensor]  # per level, coarse to fine, (B, r, r, 2)
    masks: list[torch.Tensor]  # per level, coarse to fine, (B, 1, r, r)


class Synthesis(nn.Module):
    """Decoder: latent z (B, D) and source features -> image (B, 3, S, S), unbounded."""

    def __init__(self, config: LIAConfig) -> None:
        super().__init__()
        d = config.latent_dim
        ch = config.channels
        if config.motion_dictionary:
            self.direction = MotionDictionary(d, config.motion_dim)
        else:
            self.direction = IdentityPath()
        self.input = ConstantInput(ch(4))
        self.conv1 = StyledConv(ch(4), ch(4), 3, d)
        # unused by the official forward pass; kept so official checkpoints load key for key
        self.to_rgb1 = ToRGB(ch(4), upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.to_flows = nn.ModuleList()
        for r in config.resolutions:
            self.convs.append(StyledConv(ch(r // 2), ch(r), 3, d, upsample=True))
            self.convs.append(StyledConv(ch(r), ch(r), 3, d))
            self.to_rgbs.append(ToRGB(ch(r)))
            self.to_flows.append(ToFlow(ch(r), d, r))

    def forward(
        self,
        z: torch.Tensor,
        features: list[torch.Tensor],
        return_flows: bool = False,
        levels: int | None = None,
    ) -> torch.Tensor | SynthesisOutput:
        """``levels`` stops after that many levels (coarse to fine): the RGB of a coarser level,
        a cheap preview (each level doubles the resolution; the finest costs the most)."""
        if len(features) != len(self.to_flows):
            raise ValueError(f"expected {len(self.to_flows)} feature maps, got {len(features)}")
        n = len(self.to_flows) if levels is None else levels
        if not 1 <= n <= len(self.to_flows):
            raise ValueError(f"levels must be 1..{len(self.to_flows)}, got {levels}")
        x = self.conv1(self.input(z.shape[0]), z)
        rgb = logits = None
        flows, masks = [], []
        pairs = list(zip(self.to_flows, self.to_rgbs, strict=True))[:n]
        for level, (to_flow, to_rgb) in enumerate(pairs):
            x = self.convs[2 * level](x, z)
            x = self.convs[2 * level + 1](x, z)
            out = to_flow(x, z, features[level], logits, merge=level < n - 1)
            rgb = to_rgb(out.warped, rgb)
            x, logits = out.merged, out.logits
            if return_flows:
                flows.append(out.flow)
                masks.append(out.mask)
        if return_flows:
            return SynthesisOutput(rgb, flows, masks)
        return rgb
