"""Training configuration as plain data: YAML files, ``--section.key value`` overrides, and the
one place where every setting is checked.

A config is a two-level dict ``{section: {key: value}}`` of plain YAML values, so it round-trips
through YAML, JSON and ``torch.load(weights_only=True)`` checkpoints unchanged. Its defaults come
from the typed sections of ``options`` (the model's from ``LIAConfig``); files only say what
differs. ``resolve`` checks a config once and returns those typed sections.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from options import DEFAULTS, model_config, sections

from liaviz import LIAConfig
from liaviz.atomic import write_text
from liaviz.errors import UserError, first_line
from liaviz.losses import MIN_VGG_SIZE

# Settings of earlier versions that a run folder's config.yaml may still hold: ignored there.
RETIRED = ("debug.nonfinite_steps",)  # now a test hook of training_loop (loss_hook)


def load_config(path: str | os.PathLike | None) -> dict[str, dict[str, Any]]:
    """Defaults updated by the YAML file at ``path`` (unknown sections or keys are errors)."""
    config = copy.deepcopy(DEFAULTS)
    if path is None:
        return config
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{path}: invalid YAML ({first_line(e)})") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected sections (model:, train:, ...) at the top level")
    for section, values in data.items():
        if not isinstance(values, dict):
            raise UserError(f"{path}: section {section!r} must hold key: value pairs")
        for key, value in values.items():
            if f"{section}.{key}" not in RETIRED:
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


def _integer(lo: int, hi: int | None = None) -> tuple[Callable[[Any], bool], str]:
    def ok(v: Any) -> bool:
        return (
            isinstance(v, int) and not isinstance(v, bool) and lo <= v <= (v if hi is None else hi)
        )

    return ok, f"an integer >= {lo}" if hi is None else f"an integer from {lo} to {hi}"


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

_LIMIT = LIAConfig.LIMITS  # the model's sizes are bounded where every LIAConfig is checked

# The type and range of every setting: validate() checks each key of a config against it.
SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "model.size": _integer(16, 1024),
    "model.latent_dim": _integer(1, _LIMIT["latent_dim"]),
    "model.motion_dim": _integer(1, _LIMIT["motion_dim"]),
    "model.channel_multiplier": _number(0, _LIMIT["channel_multiplier"], lo_open=True),
    "model.channel_max": _integer(1, _LIMIT["channel_max"]),
    "model.motion_layers": _integer(0, _LIMIT["motion_layers"]),
    "motion.dictionary": _BOOL,
    "motion.sparsity_l1": _number(0),
    "discriminator.channel_multiplier": _optional(_number(0, lo_open=True)),
    "discriminator.stddev_group": _integer(1),
    "data.root": _optional(_TEXT),
    "data.split": _TEXT,
    "data.flip": _BOOL,
    "data.jitter": _number(0, 1, hi_open=True),
    "data.near_pairs": _number(0, 1),
    "data.near_gap": _integer(1),
    "data.workers": _integer(0),
    "train.batch_size": _integer(1),
    "train.grad_accum": _integer(1),
    "train.max_steps": _integer(1),
    "train.lr": _number(0, lo_open=True),
    "train.g_reg_every": _integer(1),
    "train.d_reg_every": _integer(1),
    "train.seed": _integer(0, 2**32 - 1),  # numpy's seeds are 32-bit
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
    "loss.change_l1": _number(0),
    "loss.change_spread": _integer(0),
    "loss.gan": _number(0),
    "loss.r1": _number(0),
    "ema.enabled": _BOOL,
    "ema.decay": _number(0, 1, hi_open=True),
    "checkpoint.every": _integer(1),
    "checkpoint.keep": _integer(1),
    "log.every": _integer(0),
    "log.images_every": _integer(0),
    "log.export_every": _integer(0),
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
        return model_config(config)
    except (TypeError, ValueError) as e:
        raise UserError(f"config: invalid model section ({e})") from None


def resolve(config: dict) -> dict[str, Any]:
    """``validate``, plus what a run needs beyond valid values (a dataset, the VGG19 weights of
    the perceptual loss, images big enough for VGG19); the config as typed sections."""
    size = validate(config).size
    if not config["data"]["root"]:
        raise UserError("no dataset: pass --data ROOT (a FOMM layout: ROOT/train/<clip>/...)")
    loss = config["loss"]
    if loss["perceptual"] == "vgg19" and not loss["vgg_weights"]:
        raise UserError(
            "loss.perceptual is vgg19 (the paper's loss) but no weights file is named: pass "
            "--loss.vgg_weights /path/to/vgg19-dcbb9e9d.pth (torchvision's ImageNet VGG19 "
            "state_dict), or --loss.perceptual none to train without the perceptual loss"
        )
    if loss["perceptual"] == "vgg19":
        smallest = size * min(loss["perceptual_scales"])
        if smallest < MIN_VGG_SIZE:
            raise UserError(
                f"loss.perceptual_scales go down to {smallest:g}px at size {size}; "
                f"VGG19 needs at least {MIN_VGG_SIZE}px: drop the smallest scales"
            )
    return sections(config)


def micro_batch(batch_size: int, grad_accum: int, world: int) -> int:
    """Samples per forward pass when ``world`` processes share a step of ``batch_size``."""
    micro = batch_size // (world * grad_accum)
    if micro * world * grad_accum != batch_size:
        raise UserError(
            f"train.batch_size ({batch_size}) must split evenly over {world} process(es) x "
            f"{grad_accum} accumulation step(s)"
        )
    return micro


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
    write_text(path, text)
