"""LIA's encoder E: appearance features at every scale, a latent code, and motion magnitudes."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import LIAConfig
from .layers import Blur, ConvAct, EqualConv2d, EqualLinear

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


class ResBlock(nn.Module):
    """Residual 2x downsampling block: (3x3 conv, blur, 3x3 stride-2 conv) + blurred 1x1 skip."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = ConvAct(in_channels, in_channels, 3)
        self.conv2 = ConvAct(in_channels, out_channels, 3, downsample=True)
        self.skip = nn.Sequential(
            Blur(pad=(1, 1)),
            EqualConv2d(in_channels, out_channels, 1, stride=2, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (main + skip) / sqrt(2), the 1/sqrt(2) folded into both convs. The skip's 1x1 stride-2
        # conv reads every other blurred pixel, so only those are blurred (a stride-2 FIR).
        blur, conv = self.skip
        skip = conv(blur(x, stride=2), stride=1, gain=_INV_SQRT2)
        main = self.conv2(self.conv1(x), gain=_INV_SQRT2)
        return main + skip if torch.is_grad_enabled() else main.add_(skip)


class AppearanceEncoder(nn.Module):
    """Image (B,3,S,S) -> latent (B,D) and features (coarse to fine, 8x8 up to SxS)."""

    def __init__(self, config: LIAConfig) -> None:
        super().__init__()
        size = config.size
        convs: list[nn.Module] = [ConvAct(3, config.channels(size), 1)]
        resolution = size
        while resolution > 4:
            convs.append(ResBlock(config.channels(resolution), config.channels(resolution // 2)))
            resolution //= 2
        convs.append(EqualConv2d(config.channels(4), config.latent_dim, 4, bias=False))
        self.convs = nn.ModuleList(convs)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        # channels-last throughout (the conv weights are too): oneDNN's fastest layout on CPUs
        x = x.contiguous(memory_format=torch.channels_last)
        for conv in self.convs:
            x = conv(x)
            features.append(x)
        latent = features.pop().flatten(1)
        features.pop()  # the 4x4 map only feeds the latent
        return latent, features[::-1]


class MotionMLP(nn.Sequential):
    """Magnitudes A = fc(latent). Linear layers without activations, as in the official model."""

    def __init__(self, config: LIAConfig) -> None:
        d = config.latent_dim
        out = config.motion_dim if config.motion_dictionary else d
        super().__init__(
            *[EqualLinear(d, d) for _ in range(config.motion_layers)], EqualLinear(d, out)
        )


class Encoder(nn.Module):
    """`net_app` (appearance and latent) plus `fc` (motion magnitudes), named as in the official."""

    def __init__(self, config: LIAConfig) -> None:
        super().__init__()
        self.net_app = AppearanceEncoder(config)
        self.fc = MotionMLP(config)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        latent, features = self.net_app(x)
        return latent, self.fc(latent), features
