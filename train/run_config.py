"""Training configuration: defaults, YAML files, ``--section.key value`` overrides, validation.

A config is a two-level dict ``{section: {key: value}}`` of plain YAML values, so it round-trips
through YAML, JSON and ``torch.load(weights_only=True)`` checkpoints unchanged. The defaults are
the paper's VoxCeleb recipe (``../shared/reference/README.md``); files only say what differs.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from liaviz import LIAConfig
from liaviz.atomic import write_bytes
from liaviz.errors import UserError

DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {  # LIAConfig fields (the generator's architecture)
        "size": 256,
        "latent_dim": 512,
        "motion_dim": 20,
        "channel_multiplier": 1.0,
        "channel_max": 512,
        "motion_layers": 4,
    },
    "motion": {
        "dictionary": True,  # false: the paper's Table 4 ablation (the MLP outputs w directly)
        "sparsity_l1": 0.0,  # weight of mean |A| on the driving magnitudes (LIA-X style)
    },
    "discriminator": {
        "channel_multiplier": None,  # None: the generator's
        "stddev_group": 4,
    },
    "data": {
        "root": None,  # FOMM layout root (ROOT/train/...); --data sets it
        "split": "train",
        "flip": False,
        "jitter": 0.0,  # colour jitter strength (TaiChi, TED: 0.1)
        "workers": 4,
    },
    "train": {
        "batch_size": 32,  # samples per optimizer step, over all processes and accumulation
        "grad_accum": 1,  # micro-batches per optimizer step and process
        "max_steps": 800_000,
        "lr": 0.002,
        # StyleGAN2 lazy-regularization ratios: lr * k/(k+1) and beta2 = 0.99^(k/(k+1))
        "g_reg_every": 4,
        "d_reg_every": 16,
        "seed": 0,
        "mixed_precision": None,  # None: as `accelerate launch` says; or "no", "bf16", "fp16"
        "max_nonfinite": 5,  # this many non-finite losses in a row stop the run
        # None: a constant lr, as in the paper; a step: cosine decay from there to 0 at max_steps
        "lr_decay_from": None,
        # zero the flow and RGB heads at the start (see train.zero_init_heads); paper: random
        "zero_init_heads": False,
    },
    "loss": {
        "l1": 1.0,
        # L1 summed over a Gaussian pyramid; [1.0] is the paper's plain pixel L1. Coarser scales
        # give the flow fields a gradient from farther away when no VGG19 weights are at hand.
        "l1_scales": [1.0],
        # weight of an L1 on the bands of a Laplacian pyramid (edges and small parts count in
        # full, not only their share of the pixels); 0: off, as in the paper
        "laplacian_l1": 0.0,
        "laplacian_levels": 4,  # bands of that pyramid, the coarsest being the low-pass rest
        "perceptual": "vgg19",  # or "none"
        "vgg_weights": None,  # torchvision's vgg19-*.pth (ImageNet); required for vgg19
        "perceptual_weight": 10.0,  # per layer, relu1_1 .. relu5_1
        "perceptual_scales": [1.0, 0.5, 0.25, 0.125],
        "gan": 1.0,
        "r1": 0.0,  # the official loop has no R1; StyleGAN2 used 10
    },
    "ema": {
        "enabled": False,
        "decay": 0.999,
    },
    "checkpoint": {
        "every": 1000,
        "keep": 3,
    },
    "log": {
        "every": 50,
        "images_every": 1000,
        "export_every": 0,  # 0: export the generator only at the end (and on request)
    },
    "debug": {
        "nonfinite_steps": [],  # steps whose G loss is replaced by NaN: tests the guard
    },
}


def load_config(path: str | os.PathLike | None) -> dict[str, dict[str, Any]]:
    """Defaults updated by the YAML file at ``path`` (unknown sections or keys are errors)."""
    config = copy.deepcopy(DEFAULTS)
    if path is None:
        return config
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{path}: invalid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected sections (model:, train:, ...) at the top level")
    for section, values in data.items():
        if not isinstance(values, dict):
            raise UserError(f"{path}: section {section!r} must hold key: value pairs")
        for key, value in values.items():
            _set(config, f"{section}.{key}", value, where=str(path))
    return config


def apply_overrides(config: dict, args: list[str]) -> dict:
    """Apply ``--section.key value`` / ``--section.key=value`` pairs; values are parsed as YAML
    (``8`` is an int, ``none`` a string, ``null`` None, ``[1, 0.5]`` a list)."""
    config = copy.deepcopy(config)
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or "." not in arg:
            raise UserError(f"unrecognized argument {arg!r} (overrides look like --train.lr 0.001)")
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise UserError(f"--{name} needs a value")
            value = args[i + 1]
            i += 1
        try:
            parsed = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError:
            parsed = value
        _set(config, name, parsed, where="command line")
        i += 1
    return config


def _set(config: dict, name: str, value: Any, where: str) -> None:
    section, _, key = name.partition(".")
    if section not in config or key not in config[section]:
        known = ", ".join(f"{section}.{k}" for k in config.get(section, {})) or (
            "sections: " + ", ".join(config)
        )
        raise UserError(f"{where}: unknown setting {name!r} (known: {known})")
    config[section][key] = value


def _integer(lo: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo), (
        f"an integer >= {lo}"
    )


def _number(lo: float, hi: float = math.inf, lo_open: bool = False, hi_open: bool = False):
    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)

    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    what = f"a number > {lo:g}" if lo_open else f"a number >= {lo:g}"
    return ok, (what if hi == math.inf else f"a number in {left}{lo:g}, {hi:g}{right}")


def _optional(check: tuple[Callable[[Any], bool], str]):
    return (lambda v: v is None or check[0](v)), f"null or {check[1]}"


def _one_of(*choices: Any):
    return (lambda v: any(v is c or (v == c and type(v) is type(c)) for c in choices)), (
        "one of " + ", ".join("null" if c is None else str(c) for c in choices)
    )


def _list_of(check: tuple[Callable[[Any], bool], str], items: str, non_empty: bool = True):
    what = f"a{' non-empty' if non_empty else ''} list of {items}"
    return (
        lambda v: isinstance(v, list) and (bool(v) or not non_empty) and all(map(check[0], v))
    ), what


_BOOL = (lambda v: isinstance(v, bool)), "true or false"
_TEXT = (lambda v: isinstance(v, str) and v != ""), "a non-empty string"
_SCALE = _number(0, 1, lo_open=True)

# The type and range of every setting: validate() checks each key of a config against it.
SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "model.size": _integer(16),
    "model.latent_dim": _integer(1),
    "model.motion_dim": _integer(1),
    "model.channel_multiplier": _number(0, lo_open=True),
    "model.channel_max": _integer(1),
    "model.motion_layers": _integer(0),
    "motion.dictionary": _BOOL,
    "motion.sparsity_l1": _number(0),
    "discriminator.channel_multiplier": _optional(_number(0, lo_open=True)),
    "discriminator.stddev_group": _integer(1),
    "data.root": _optional(_TEXT),
    "data.split": _TEXT,
    "data.flip": _BOOL,
    "data.jitter": _number(0, 1, hi_open=True),
    "data.workers": _integer(0),
    "train.batch_size": _integer(1),
    "train.grad_accum": _integer(1),
    "train.max_steps": _integer(1),
    "train.lr": _number(0, lo_open=True),
    "train.g_reg_every": _integer(1),
    "train.d_reg_every": _integer(1),
    "train.seed": _integer(0),
    "train.mixed_precision": _one_of(None, "no", "bf16", "fp16"),
    "train.max_nonfinite": _integer(1),
    "train.lr_decay_from": _optional(_integer(0)),
    "train.zero_init_heads": _BOOL,
    "loss.l1": _number(0),
    "loss.l1_scales": _list_of(_SCALE, "scales in (0, 1]"),
    "loss.perceptual": _one_of("vgg19", "none"),
    "loss.vgg_weights": _optional(_TEXT),
    "loss.perceptual_weight": _number(0),
    "loss.perceptual_scales": _list_of(_SCALE, "scales in (0, 1]"),
    "loss.laplacian_l1": _number(0),
    "loss.laplacian_levels": _integer(1),
    "loss.gan": _number(0),
    "loss.r1": _number(0),
    "ema.enabled": _BOOL,
    "ema.decay": _number(0, 1, hi_open=True),
    "checkpoint.every": _integer(1),
    "checkpoint.keep": _integer(1),
    "log.every": _integer(0),
    "log.images_every": _integer(0),
    "log.export_every": _integer(0),
    "debug.nonfinite_steps": _optional(
        _list_of(_integer(0), "steps (integers >= 0)", non_empty=False)
    ),
}


def validate(config: dict) -> LIAConfig:
    """Check every setting against ``SCHEMA`` (types and ranges that would otherwise fail deep
    inside training, or silently do the wrong thing) and the settings that depend on each
    other; return the generator's ``LIAConfig``. Errors name the key and the value."""
    for section, values in config.items():
        for key, value in values.items():
            name = f"{section}.{key}"
            ok, what = SCHEMA[name]
            if not ok(value):
                raise UserError(f"config: {name} must be {what}, got {value!r}")
    t = config["train"]
    if t["lr_decay_from"] is not None and not t["lr_decay_from"] < t["max_steps"]:
        raise UserError(
            "config: train.lr_decay_from must be null or a step in [0, train.max_steps), got "
            f"{t['lr_decay_from']!r} with train.max_steps {t['max_steps']}"
        )
    try:
        return LIAConfig(**config["model"], motion_dictionary=config["motion"]["dictionary"])
    except (TypeError, ValueError) as e:
        raise UserError(f"config: invalid model section ({e})") from None


# Settings that fix the shapes of what a checkpoint holds: a resumed run must keep them.
ARCHITECTURE_KEYS = (
    *(f"model.{k}" for k in DEFAULTS["model"]),
    "motion.dictionary",
    "discriminator.channel_multiplier",
    "discriminator.stddev_group",
)


def architecture_mismatch(a: dict, b: dict) -> str | None:
    """The first architecture setting that differs between two configs, as a message."""
    for name in ARCHITECTURE_KEYS:
        section, key = name.split(".")
        va, vb = a.get(section, {}).get(key), b.get(section, {}).get(key)
        if va != vb:
            return f"{name} is {vb!r} in the checkpoint but {va!r} now"
    return None


def save_config(config: dict, path: Path) -> None:
    """Write the resolved config as YAML, atomically."""
    text = "# resolved training config (defaults + file + command line)\n" + yaml.safe_dump(
        config, sort_keys=False, default_flow_style=False
    )
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    write_bytes(path, data)
