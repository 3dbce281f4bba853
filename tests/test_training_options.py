"""Training options declared once (``liaviz.training.options``): each field's one line gives
the typed option, the YAML key and ``--section.key`` override, and the check; and YAML read as
config files mean it: ``1e-4`` is a number, only true and false are booleans."""

from __future__ import annotations

import dataclasses

import pytest

from liaviz import LIAConfig
from liaviz.errors import UserError
from liaviz.training import options, run_config


def test_every_option_is_one_field_with_its_check_and_a_default_that_passes_it():
    fields = {
        f"{section}.{f.name}": f
        for section, cls in options.SECTIONS.items()
        for f in dataclasses.fields(cls)
    }
    assert set(run_config.SCHEMA) == set(fields)  # the schema is the fields, nothing else
    for name in fields:
        section, key = name.split(".")
        default = options.DEFAULTS[section][key]
        assert run_config.SCHEMA[name].ok(default), f"{name}: default {default!r} fails its check"
    # the model section is LIAConfig's fields and defaults (motion_dictionary is motion.dictionary)
    model_fields = {f.name for f in dataclasses.fields(LIAConfig)} - {"motion_dictionary"}
    assert set(options.DEFAULTS["model"]) == model_fields
    assert run_config.validate(run_config.load_config(None)) == LIAConfig()
    # a list default is the instance's own: changing one run's list changes no other
    a, b = options.LossOptions(), options.LossOptions()
    a.l1_scales.append(0.5)
    assert b.l1_scales == [1.0] and options.LossOptions().l1_scales == [1.0]


@pytest.mark.parametrize("text, value", [("1e-4", 1e-4), ("3E5", 3e5), (".5", 0.5),
                                         ("-2.5e-3", -2.5e-3), ("1.0e+2", 100.0), ("2", 2)])  # fmt: skip
def test_numbers_in_exponent_form_are_numbers(tmp_path, text, value):
    """YAML 1.1 reads 1e-4 and 3E5 as strings, so ``--train.lr 1e-4`` was refused (issue 24)."""
    config = run_config.apply_overrides(run_config.load_config(None), ["--train.lr", text])
    assert config["train"]["lr"] == value and type(config["train"]["lr"]) is type(value)
    path = tmp_path / "c.yaml"
    path.write_text(f"train:\n  lr: {text}\n")
    assert run_config.load_config(path)["train"]["lr"] == value
    if value > 0:
        assert run_config.validate(config)  # accepted as the number it is


def test_only_true_and_false_are_booleans(tmp_path):
    """``no``, ``off`` or ``"no"`` are no booleans: YAML 1.1 read ``no`` as false, which let a
    typo or a quoted word flip a setting silently (issue 24)."""
    for word in ("no", "yes", "off", "on", "y", "n", '"no"', '"false"'):
        path = tmp_path / "c.yaml"
        path.write_text(f"motion:\n  dictionary: {word}\n")
        config = run_config.load_config(path)
        with pytest.raises(UserError, match=r"^config: motion.dictionary must be true or false"):
            run_config.validate(config)
        override = run_config.apply_overrides(config, ["--ema.enabled", word])
        override["motion"]["dictionary"] = True
        with pytest.raises(UserError, match=r"^config: ema.enabled must be true or false"):
            run_config.validate(override)
    for word, value in (("true", True), ("false", False), ("True", True), ("FALSE", False)):
        config = run_config.apply_overrides(run_config.load_config(None), ["--ema.enabled", word])
        assert config["ema"]["enabled"] is value
    # a string setting keeps a word that YAML 1.1 made a boolean
    split = run_config.apply_overrides(run_config.load_config(None), ["--data.split", "no"])
    assert split["data"]["split"] == "no"
