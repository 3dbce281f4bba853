"""Training configuration as plain data: YAML files, ``--section.key value`` overrides, and the
one place where every setting is checked.

A config is a two-level dict ``{section: {key: value}}`` of plain YAML values, so it round-trips
through YAML, JSON and ``torch.load(weights_only=True)`` checkpoints unchanged. Its defaults come
from the typed sections of ``options`` (the model's from ``LIAConfig``); files only say what
differs. ``resolve`` checks a config once and returns those typed sections.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError, first_line
from ..io.atomic import write_text
from ..nn.config import LIAConfig
from .checks import Check, check_of
from .losses import MIN_VGG_SIZE
from .options import DEFAULTS, SECTIONS, model_config, sections


class ConfigLoader(yaml.SafeLoader):
    """YAML as config files mean it (YAML 1.2's core schema for these two): ``1e-4``, ``3E5``
    and ``.5`` are numbers (YAML 1.1 reads the first two as strings), and only true and false
    are booleans (``no``, ``off``, ``y`` stay strings that the checks refuse, not false)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith((":bool", ":float"))]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def read_yaml(text: str) -> Any:
    """Plain data from YAML text, read as ``ConfigLoader`` says."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 (a SafeLoader)


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
        data = read_yaml(path.read_text(encoding="utf-8")) or {}
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
    (``8`` is an int, ``1e-4`` a float, ``none`` a string, ``null`` None, ``[1, 0.5]`` a list)."""
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
            parsed = read_yaml(value) if value != "" else ""
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


# The type and range of every setting, from its one declaration in options.py.
SCHEMA: dict[str, Check] = {
    f"{section}.{field.name}": check_of(field)
    for section, cls in SECTIONS.items()
    for field in dataclasses.fields(cls)
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
