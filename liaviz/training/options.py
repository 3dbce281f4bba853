"""Every setting of a training run, declared once: its type, default, range and meaning.

Each section is a frozen dataclass; each field is ``option(default, check)`` with a comment.
That one line is the typed option ``training_loop`` reads, the YAML key a config file sets and
``--section.key`` overrides, and the check ``run_config.validate`` applies (its error message
says ``config: train.lr must be a number > 0, got ...``).

The defaults are the paper's VoxCeleb recipe (``../shared/reference/README.md``); config files
only say what differs. The ``model`` section is ``LIAConfig`` (its defaults are the official
LIA at 256x256), except ``motion_dictionary``, which is ``motion.dictionary``. A new loss term
adds its weight (and settings) to ``LossOptions`` and its class to ``terms.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..nn.config import LIAConfig
from .checks import BOOL, SCALES, TEXT, integers, numbers, one_of, option, optional

LIMIT = LIAConfig.LIMITS  # the model's sizes are bounded where every LIAConfig is checked
DEFAULT_MODEL = LIAConfig()


@dataclass(frozen=True)
class ModelOptions:
    """The generator's architecture: ``LIAConfig``'s fields and defaults (see ``model_config``)."""

    size: int = option(DEFAULT_MODEL.size, integers(16, 1024))  # images are size x size
    latent_dim: int = option(DEFAULT_MODEL.latent_dim, integers(1, LIMIT["latent_dim"]))
    motion_dim: int = option(DEFAULT_MODEL.motion_dim, integers(1, LIMIT["motion_dim"]))  # M
    channel_multiplier: float = option(  # channel widths, as a share of the official ones
        DEFAULT_MODEL.channel_multiplier, numbers(0, LIMIT["channel_multiplier"], lo_open=True)
    )
    channel_max: int = option(DEFAULT_MODEL.channel_max, integers(1, LIMIT["channel_max"]))
    motion_layers: int = option(DEFAULT_MODEL.motion_layers, integers(0, LIMIT["motion_layers"]))


@dataclass(frozen=True)
class MotionOptions:
    # false: the paper's Table 4 ablation (the MLP outputs w directly)
    dictionary: bool = option(DEFAULT_MODEL.motion_dictionary, BOOL)
    sparsity_l1: float = option(0.0, numbers(0))  # weight of mean |A| on the driving magnitudes


@dataclass(frozen=True)
class DiscriminatorOptions:
    channel_multiplier: float | None = option(None, optional(numbers(0, lo_open=True)))  # None: G's
    stddev_group: int = option(4, integers(1))  # minibatch-stddev group size


@dataclass(frozen=True)
class DataOptions:
    root: str | None = option(None, optional(TEXT))  # FOMM layout root (ROOT/train/...); --data
    split: str = option("train", TEXT)  # the folder under root that holds the clips
    flip: bool = option(False, BOOL)  # random horizontal flips
    jitter: float = option(0.0, numbers(0, 1, hi_open=True))  # colour jitter (TaiChi, TED: 0.1)
    near_pairs: float = option(0.0, numbers(0, 1))  # share of pairs at most near_gap frames apart
    near_gap: int = option(4, integers(1))  # the largest frame distance of a near pair
    workers: int = option(4, integers(0))  # DataLoader worker processes


@dataclass(frozen=True)
class TrainOptions:
    batch_size: int = option(32, integers(1))  # samples per step, over processes and accumulation
    grad_accum: int = option(1, integers(1))  # micro-batches per optimizer step and process
    max_steps: int = option(800_000, integers(1))  # optimizer steps of the whole run
    lr: float = option(0.002, numbers(0, lo_open=True))  # Adam's, before the lazy-reg. ratio
    # StyleGAN2 lazy-regularization ratios: lr * k/(k+1) and beta2 = 0.99^(k/(k+1))
    g_reg_every: int = option(4, integers(1))
    d_reg_every: int = option(16, integers(1))  # also how often R1 runs (when loss.r1 > 0)
    seed: int = option(0, integers(0, 2**32 - 1))  # weights and data stream (numpy: 32-bit)
    # None: as `accelerate launch` says; or "no", "bf16", "fp16"
    mixed_precision: str | None = option(None, one_of(None, "no", "bf16", "fp16"))
    max_nonfinite: int = option(5, integers(1))  # this many non-finite losses in a row stop it
    # None: a constant lr, as in the paper; a step: cosine decay from there to 0 at max_steps
    lr_decay_from: int | None = option(None, optional(integers(0)))
    # zero the flow and RGB heads at the start (see LIA.zero_init_heads); paper: random
    zero_init_heads: bool = option(False, BOOL)

    def ratio(self, reg_every: int) -> float:
        """The lazy-regularization ratio k/(k+1) of a network regularized every k steps."""
        return reg_every / (reg_every + 1)


@dataclass(frozen=True)
class LossOptions:
    """The weights and settings of the generator's loss terms (``terms.py``) and of R1."""

    l1: float = option(1.0, numbers(0))  # weight of the pixel L1
    # L1 summed over a Gaussian pyramid; [1.0] is the paper's plain pixel L1. Coarser scales
    # give the flow fields a gradient from farther away when no VGG19 weights are at hand.
    l1_scales: list[float] = option([1.0], SCALES)
    # weight of an L1 on the bands of a Laplacian pyramid (edges and small parts count in
    # full, not only their share of the pixels); 0: off, as in the paper
    laplacian_l1: float = option(0.0, numbers(0))
    laplacian_levels: int = option(4, integers(1))  # bands, the coarsest the low-pass rest
    # weight of an L1 weighted by where the driving frame differs from its source (a blink, the
    # lips: small moving parts own the term whatever their share of the pixels); 0: off, as in
    # the paper
    change_l1: float = option(0.0, numbers(0))
    change_spread: int = option(2, integers(0))  # pixels the change map widens by on each side
    l2: float = option(0.0, numbers(0))  # weight of the mean squared pixel error; paper: 0
    perceptual: str = option("vgg19", one_of("vgg19", "none"))  # the paper's VGG19 pyramid
    # torchvision's vgg19-*.pth (ImageNet); required for vgg19
    vgg_weights: str | None = option(None, optional(TEXT))
    perceptual_weight: float = option(10.0, numbers(0))  # per layer, relu1_1 .. relu5_1
    perceptual_scales: list[float] = option([1.0, 0.5, 0.25, 0.125], SCALES)
    gan: float = option(1.0, numbers(0))  # weight of the non-saturating GAN loss (0: no D step)
    r1: float = option(0.0, numbers(0))  # the official loop has no R1; StyleGAN2 used 10


@dataclass(frozen=True)
class EMAOptions:
    enabled: bool = option(False, BOOL)  # keep a moving average of the generator (exported)
    decay: float = option(0.999, numbers(0, 1, hi_open=True))  # its weight on the average so far


@dataclass(frozen=True)
class CheckpointOptions:
    every: int = option(1000, integers(1))  # steps between checkpoints (and one at the end)
    keep: int = option(3, integers(1))  # the newest this many stay


@dataclass(frozen=True)
class LogOptions:
    every: int = option(50, integers(0))  # steps between scalar rows (0: never)
    images_every: int = option(1000, integers(0))  # steps between sample grids (0: never)
    export_every: int = option(0, integers(0))  # 0: export the generator only at the end


# The config's sections, in the order config files and config.yaml list them.
SECTIONS: dict[str, type] = {
    "model": ModelOptions,
    "motion": MotionOptions,
    "discriminator": DiscriminatorOptions,
    "data": DataOptions,
    "train": TrainOptions,
    "loss": LossOptions,
    "ema": EMAOptions,
    "checkpoint": CheckpointOptions,
    "log": LogOptions,
}

DEFAULTS: dict[str, dict[str, Any]] = {
    name: dataclasses.asdict(cls()) for name, cls in SECTIONS.items()
}


def sections(config: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A checked config as typed objects: ``model`` a ``LIAConfig``, the others the dataclasses
    above (``training_loop`` takes them as its keyword arguments)."""
    return {
        "model": model_config(config),
        **{name: cls(**config[name]) for name, cls in SECTIONS.items() if name != "model"},
    }


def model_config(config: dict[str, dict[str, Any]]) -> LIAConfig:
    """The generator's architecture in a config (``ValueError`` when it is not a valid one)."""
    return LIAConfig(**config["model"], motion_dictionary=config["motion"]["dictionary"])


def to_config(typed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The plain-data config of typed sections (what config.yaml and checkpoints hold)."""
    model = {k: v for k, v in typed["model"].to_dict().items() if k in DEFAULTS["model"]}
    return {
        "model": model,
        **{name: dataclasses.asdict(typed[name]) for name in SECTIONS if name != "model"},
    }
