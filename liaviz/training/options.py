"""The settings of a training run, typed: one frozen dataclass per config section.

Their defaults are the paper's VoxCeleb recipe (``../shared/reference/README.md``); config files
only say what differs. The ``model`` section is ``LIAConfig`` itself (its defaults are the
official LIA at 256x256), except ``motion_dictionary``, which is ``motion.dictionary``.
``run_config`` reads and checks the plain-data config; ``sections`` turns it into these objects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from liaviz import LIAConfig

# LIAConfig fields that live in another section of the config, by their name there.
MODEL_FIELDS_ELSEWHERE = {"motion_dictionary": "motion.dictionary"}


@dataclass(frozen=True)
class MotionOptions:
    # false: the paper's Table 4 ablation (the MLP outputs w directly)
    dictionary: bool = LIAConfig.motion_dictionary
    sparsity_l1: float = 0.0  # weight of mean |A| on the driving magnitudes (LIA-X style)


@dataclass(frozen=True)
class DiscriminatorOptions:
    channel_multiplier: float | None = None  # None: the generator's
    stddev_group: int = 4  # minibatch-stddev group size


@dataclass(frozen=True)
class DataOptions:
    root: str | None = None  # FOMM layout root (ROOT/train/...); --data sets it
    split: str = "train"  # the folder under root that holds the clips
    flip: bool = False  # random horizontal flips
    jitter: float = 0.0  # colour jitter strength (TaiChi, TED: 0.1)
    near_pairs: float = 0.0  # share of pairs at most near_gap frames apart (paper: 0, any two)
    near_gap: int = 4  # the largest frame distance of a near pair
    workers: int = 4  # DataLoader worker processes


@dataclass(frozen=True)
class TrainOptions:
    batch_size: int = 32  # samples per optimizer step, over all processes and accumulation
    grad_accum: int = 1  # micro-batches per optimizer step and process
    max_steps: int = 800_000  # optimizer steps of the whole run
    lr: float = 0.002  # Adam's learning rate, before the lazy-regularization ratio
    # StyleGAN2 lazy-regularization ratios: lr * k/(k+1) and beta2 = 0.99^(k/(k+1))
    g_reg_every: int = 4
    d_reg_every: int = 16  # also how often R1 runs (when loss.r1 > 0)
    seed: int = 0  # initial weights and the data stream
    mixed_precision: str | None = None  # None: as `accelerate launch` says; or "no", "bf16", "fp16"
    max_nonfinite: int = 5  # this many non-finite losses in a row stop the run
    # None: a constant lr, as in the paper; a step: cosine decay from there to 0 at max_steps
    lr_decay_from: int | None = None
    # zero the flow and RGB heads at the start (see LIA.zero_init_heads); paper: random
    zero_init_heads: bool = False

    def ratio(self, reg_every: int) -> float:
        """The lazy-regularization ratio k/(k+1) of a network regularized every k steps."""
        return reg_every / (reg_every + 1)


@dataclass(frozen=True)
class LossOptions:
    l1: float = 1.0  # weight of the pixel L1
    # L1 summed over a Gaussian pyramid; [1.0] is the paper's plain pixel L1. Coarser scales
    # give the flow fields a gradient from farther away when no VGG19 weights are at hand.
    l1_scales: list[float] = field(default_factory=lambda: [1.0])
    # weight of an L1 on the bands of a Laplacian pyramid (edges and small parts count in
    # full, not only their share of the pixels); 0: off, as in the paper
    laplacian_l1: float = 0.0
    laplacian_levels: int = 4  # bands of that pyramid, the coarsest being the low-pass rest
    # weight of an L1 weighted by where the driving frame differs from its source (a blink, the
    # lips: small moving parts own the term whatever their share of the pixels); 0: off, as in
    # the paper
    change_l1: float = 0.0
    change_spread: int = 2  # pixels that change map is widened by on each side (max filter)
    perceptual: str = "vgg19"  # or "none"
    vgg_weights: str | None = None  # torchvision's vgg19-*.pth (ImageNet); required for vgg19
    perceptual_weight: float = 10.0  # per layer, relu1_1 .. relu5_1
    perceptual_scales: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.25, 0.125])
    gan: float = 1.0  # weight of the non-saturating GAN loss (0: no discriminator step)
    r1: float = 0.0  # the official loop has no R1; StyleGAN2 used 10


@dataclass(frozen=True)
class EMAOptions:
    enabled: bool = False  # keep an exponential moving average of the generator (exported)
    decay: float = 0.999  # its weight on the average so far, per step


@dataclass(frozen=True)
class CheckpointOptions:
    every: int = 1000  # steps between checkpoints (and one at the end)
    keep: int = 3  # the newest this many stay


@dataclass(frozen=True)
class LogOptions:
    every: int = 50  # steps between scalar rows (0: never)
    images_every: int = 1000  # steps between sample grids (0: never)
    export_every: int = 0  # 0: export the generator only at the end (and on request)


# The config's sections after ``model``, in the order config files and config.yaml list them.
SECTIONS: dict[str, type] = {
    "motion": MotionOptions,
    "discriminator": DiscriminatorOptions,
    "data": DataOptions,
    "train": TrainOptions,
    "loss": LossOptions,
    "ema": EMAOptions,
    "checkpoint": CheckpointOptions,
    "log": LogOptions,
}

MODEL_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(LIAConfig) if f.name not in MODEL_FIELDS_ELSEWHERE
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "model": MODEL_DEFAULTS,
    **{name: dataclasses.asdict(cls()) for name, cls in SECTIONS.items()},
}


def sections(config: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A checked config as typed objects: ``model`` a ``LIAConfig``, the others the dataclasses
    above (``training_loop`` takes them as its keyword arguments)."""
    return {
        "model": model_config(config),
        **{name: cls(**config[name]) for name, cls in SECTIONS.items()},
    }


def model_config(config: dict[str, dict[str, Any]]) -> LIAConfig:
    """The generator's architecture in a config (``ValueError`` when it is not a valid one)."""
    return LIAConfig(**config["model"], motion_dictionary=config["motion"]["dictionary"])


def to_config(typed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The plain-data config of typed sections (what config.yaml and checkpoints hold)."""
    model = {k: v for k, v in typed["model"].to_dict().items() if k not in MODEL_FIELDS_ELSEWHERE}
    return {"model": model, **{name: dataclasses.asdict(typed[name]) for name in SECTIONS}}
