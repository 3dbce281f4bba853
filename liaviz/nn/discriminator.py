"""StyleGAN2 discriminator (Karras et al. 2020), as LIA trains against it (training only).

Layout: 1x1 conv from RGB, residual 2x downsampling blocks down to 4x4 (the same ``ResBlock`` as
LIA's encoder), minibatch standard deviation, a 3x3 conv, then two equalized linears to one
logit per image. Widths follow ``LIAConfig.channels`` so small generators get small critics.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import LIAConfig
from .encoder import ResBlock
from .layers import ConvAct, EqualLinear, FusedLeakyReLU


class MinibatchStddev(nn.Module):
    """Append one channel: the feature std across groups of ``group`` samples, averaged.

    Lets the critic see the variety of a batch (StyleGAN2, Sec. B). When the batch is not a
    multiple of ``group`` the largest divisor below it is used, so any batch size works.
    """

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        group = min(b, self.group)
        while b % group:
            group -= 1
        y = x.view(group, -1, c, h, w)  # sample i belongs to group slot i // (b / group)
        y = torch.sqrt(y.var(0, unbiased=False) + 1e-8)  # (b/group, c, h, w)
        y = y.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1)  # one number per group member
        y = y.repeat(group, 1, h, w)
        return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """Image (B, 3, S, S) in [-1, 1] -> realness logits (B, 1)."""

    def __init__(
        self,
        size: int = 256,
        channel_multiplier: float = 1.0,
        channel_max: int = 512,
        stddev_group: int = 4,
    ) -> None:
        super().__init__()
        widths = LIAConfig(
            size=size, channel_multiplier=channel_multiplier, channel_max=channel_max
        )
        ch = widths.channels
        blocks: list[nn.Module] = [ConvAct(3, ch(size), 1)]
        resolution = size
        while resolution > 4:
            blocks.append(ResBlock(ch(resolution), ch(resolution // 2)))
            resolution //= 2
        self.convs = nn.Sequential(*blocks)
        self.stddev = MinibatchStddev(stddev_group)
        self.final_conv = ConvAct(ch(4) + 1, ch(4), 3)
        self.final_linear = EqualLinear(ch(4) * 4 * 4, ch(4), bias=False)
        self.final_act = FusedLeakyReLU(ch(4))
        self.out = EqualLinear(ch(4), 1)
        self.size = size

    @classmethod
    def for_generator(
        cls, config: LIAConfig, channel_multiplier: float | None = None
    ) -> Discriminator:
        """The critic paired with a generator: same size and width rule unless overridden."""
        mult = config.channel_multiplier if channel_multiplier is None else channel_multiplier
        return cls(config.size, mult, config.channel_max)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] != self.size or x.shape[3] != self.size:
            raise ValueError(
                f"expected images of shape (B, 3, {self.size}, {self.size}), got {tuple(x.shape)}"
            )
        x = self.final_conv(self.stddev(self.convs(x)))
        x = self.final_linear(x.flatten(1))
        # FusedLeakyReLU holds a (1, C, 1, 1) bias: apply it on a (B, C, 1, 1) view
        x = self.final_act(x[:, :, None, None]).flatten(1)
        return self.out(x)
