"""The generator's loss, term by term: each term is a small class, chosen by name.

A term has a ``name`` (its key in the log: ``loss/<name>``), a ``weight`` read from the config
in ``__init__``, and ``__call__``, which scores one micro-batch's reconstructions. A term with
weight 0 is left out (``l1`` is always computed: it is the run's headline number). The total
is the weighted sum of the terms, in the order they are defined here.

A new term is one class here (registered with ``@loss_term``) and its weight in
``options.LossOptions``: ``PixelL2`` below is one, written out in the README's "Train" section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .losses import (
    change_weighted_l1,
    g_nonsaturating_loss,
    gaussian_downsample,
    l1_loss,
    laplacian_l1,
)
from .options import LossOptions, MotionOptions


@dataclass(frozen=True)
class LossSetup:
    """What terms are built from: the options, and the networks some of them score with."""

    loss: LossOptions
    motion: MotionOptions
    perceptual: nn.Module | None = None  # the VGG19 pyramid, when loss.perceptual is vgg19
    critic: nn.Module | None = None  # the (unwrapped) discriminator, when loss.gan > 0


@dataclass(frozen=True)
class Reconstruction:
    """One micro-batch as the terms see it (images (B, 3, S, S) in [-1, 1])."""

    recon: torch.Tensor  # the generator's output (in autocast's dtype)
    target: torch.Tensor  # the driving frames it reconstructs
    source: torch.Tensor  # the source frames it starts from
    alpha: torch.Tensor | None  # the driving magnitudes A (B, M)


class LossTerm:
    """One term of the generator's objective (see the module's notes)."""

    name: ClassVar[str]
    always: ClassVar[bool] = False  # computed (and logged) even at weight 0
    weight: float

    def __init__(self, setup: LossSetup) -> None:
        raise NotImplementedError

    def __call__(self, x: Reconstruction) -> torch.Tensor:
        raise NotImplementedError


TERMS: dict[str, type[LossTerm]] = {}  # by name, in the order the total sums them


def loss_term(cls: type[LossTerm]) -> type[LossTerm]:
    """Register a term under its name (a class decorator)."""
    if cls.name in TERMS:
        raise ValueError(f"two loss terms named {cls.name!r}")
    TERMS[cls.name] = cls
    return cls


@loss_term
class PixelL1(LossTerm):
    """Pixel L1 summed over the scales of a Gaussian pyramid (just L1 for ``[1.0]``)."""

    name = "l1"
    always = True

    def __init__(self, setup: LossSetup) -> None:
        self.weight, self.scales = setup.loss.l1, setup.loss.l1_scales

    def __call__(self, x: Reconstruction) -> torch.Tensor:
        return pyramid_l1(x.recon.float(), x.target, self.scales)


@loss_term
class LaplacianL1(LossTerm):
    """L1 on the bands of a Laplacian pyramid: edges and small parts count in full."""

    name = "laplacian"

    def __init__(self, setup: LossSetup) -> None:
        self.weight, self.levels = setup.loss.laplacian_l1, setup.loss.laplacian_levels

    def __call__(self, x: Reconstruction) -> torch.Tensor:
        return laplacian_l1(x.recon.float(), x.target, self.levels)


@loss_term
class ChangeL1(LossTerm):
    """L1 weighted by where the driving frame differs from its source."""

    name = "change"

    def __init__(self, setup: LossSetup) -> None:
        self.weight, self.spread = setup.loss.change_l1, setup.loss.change_spread

    def __call__(self, x: Reconstruction) -> torch.Tensor:
        return change_weighted_l1(x.recon.float(), x.target, x.source, self.spread)


@loss_term
class PixelL2(LossTerm):
    """Mean squared pixel error: big errors weigh more than under L1."""

    name = "l2"

    def __init__(self, setup: LossSetup) -> None:
        self.weight = setup.loss.l2

    def __call__(self, x: Reconstruction) -> torch.Tensor:
        return (x.recon.float() - x.target).square().mean()


@loss_term
class Perceptual(LossTerm):
    """The VGG19 pyramid loss (its per-layer weights, 10 in the paper, are inside it)."""

    name = "perceptual"

    def __init__(self, setup: LossSetup) -> None:
        self.weight, self.network = (0.0 if setup.perceptual is None else 1.0), setup.perceptual

    def __call__(self, x: Reconstruction) -> torch.Tensor:
        return self.network(x.recon, x.target).float()


@loss_term
class Adversarial(LossTerm):
    """The non-saturating GAN loss: mean softplus(-D(reconstruction))."""

    name = "gan_g"

    def __init__(self, setup: LossSetup) -> None:
        self.weight, self.critic = setup.loss.gan, setup.critic

    def __call__(self, x: Reconstruction) -> torch.Tensor:
        return g_nonsaturating_loss(self.critic(x.recon).float())


@loss_term
class MotionSparsity(LossTerm):
    """Mean |A| of the driving magnitudes (LIA-X style): few directions per motion."""

    name = "sparsity"

    def __init__(self, setup: LossSetup) -> None:
        self.weight = setup.motion.sparsity_l1

    def __call__(self, x: Reconstruction) -> torch.Tensor:
        return x.alpha.float().abs().mean()


class GeneratorLoss:
    """The generator's objective for one micro-batch: the unweighted terms, and their weighted
    sum (what is minimized). The terms are every registered one with a weight."""

    def __init__(self, setup: LossSetup) -> None:
        self.critic = setup.critic
        built = (cls(setup) for cls in TERMS.values())
        self.terms = [t for t in built if t.weight or t.always]

    def __call__(
        self,
        recon: torch.Tensor,
        target: torch.Tensor,
        source: torch.Tensor,
        alpha: torch.Tensor | None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        x = Reconstruction(recon, target, source, alpha)
        parts = {term.name: term(x) for term in self.terms}
        return parts, sum(term.weight * parts[term.name] for term in self.terms)


def pyramid_l1(recon: torch.Tensor, target: torch.Tensor, scales) -> torch.Tensor:
    """Pixel L1 summed over the scales of a Gaussian pyramid (just L1 for ``[1.0]``)."""
    return sum(
        l1_loss(gaussian_downsample(recon, s), gaussian_downsample(target, s)) for s in scales
    )
