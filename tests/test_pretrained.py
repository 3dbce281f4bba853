"""The model that ships inside the package: it loads by name and has learned to animate."""

from __future__ import annotations

import numpy as np
import torch

import liaviz
from liaviz.cli import main as cli_main
from liaviz.data.synthetic import video_frames
from liaviz.evaluate import copy_source_l1, reconstruction_l1

NAME = "synthetic-faces-64"
# The shipped model must reconstruct unseen faces with at most half the error of copying the
# source frame (its model card has the full benchmark on a larger test split).
MAX_RATIO = 0.5


def test_it_is_bundled_and_loads_by_name(capsys):
    assert NAME in liaviz.pretrained_names()
    model = liaviz.load_model(NAME)
    assert model.config.size == 64 and model.config.motion_dim == 20
    assert cli_main(["info", NAME]) == 0
    assert "liaviz-safetensors" in capsys.readouterr().out
    card = liaviz.checkpoint.PRETRAINED_DIR / f"{NAME}.md"
    assert "train/configs/synthetic64.yaml" in card.read_text()


def _ratio(model) -> float:
    clips = [video_frames(7, "test", i, 32, 64)[0] for i in range(6)]  # new seed: unseen faces
    model_l1 = np.mean([reconstruction_l1(model, clip) for clip in clips])
    return float(model_l1 / np.mean([copy_source_l1(clip) for clip in clips]))


def test_it_beats_copying_the_source_on_unseen_faces():
    assert _ratio(liaviz.load_model(NAME)) < MAX_RATIO


def test_the_check_fails_for_an_untrained_model():
    torch.manual_seed(0)
    untrained = liaviz.LIA(liaviz.load_model(NAME).config).eval()
    assert _ratio(untrained) >= MAX_RATIO
