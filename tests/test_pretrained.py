"""The model that ships inside the package: it loads by name and by the stable alias "embedded",
and it has learned to animate: it rebuilds unseen faces and transfers the head's motion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import liaviz
import liaviz.checkpoints.model
from liaviz.analysis.transfer import factor_transfer_ratios
from liaviz.checkpoints.model import EMBEDDED, EMBEDDED_DEFAULT, PRETRAINED_DIR, resolve_path
from liaviz.cli import main as cli_main
from liaviz.data.synthetic import FACTOR_NAMES, video_frames
from liaviz.pipelines.evaluate import copy_source_l1, reconstruction_l1

from .conftest import TINY

NAME = EMBEDDED_DEFAULT
# The shipped model must reconstruct unseen faces with under 0.55x the error of copying the
# source frame (v4 measures 0.45 here, v3 0.56; an untrained model 3.3).
MAX_RATIO = 0.55
# Per-factor transfer on a few unseen people (the share of each factor's true change the model
# misses; 1.0 = the factor is ignored). An untrained model scores 1.04-1.09 on the head's
# factors; v4 here: tx 0.29, ty 0.26, scale 0.36, yaw 0.57, pitch 0.52, roll 0.51 (v3: 0.39,
# 0.47, 0.48, 0.81, 0.93, 0.60). The shipped one must carry translation and scale (under 0.45)
# and most of the head's rotations (under 0.7). Expressions (blink, gaze, mouth, smile, brows)
# have no bar: this model does not transfer them yet (its model card has the figures).
HEAD_BARS = {"tx": 0.45, "ty": 0.45, "scale": 0.45, "yaw": 0.7, "pitch": 0.7, "roll": 0.7}


@pytest.fixture(scope="module")
def shipped() -> liaviz.LIA:
    return liaviz.load_model(NAME)


@pytest.fixture(scope="module")
def untrained(shipped) -> liaviz.LIA:
    torch.manual_seed(0)
    return liaviz.LIA(shipped.config).eval()


def test_it_is_bundled_and_loads_by_name(capsys, shipped):
    assert NAME in liaviz.pretrained_names()
    assert shipped.config.size >= 64 and shipped.config.motion_dim == 20
    assert cli_main(["info", NAME]) == 0
    assert "liaviz-safetensors" in capsys.readouterr().out
    card = PRETRAINED_DIR / f"{NAME}.md"
    assert "train/configs/" in card.read_text()


def test_the_alias_embedded_loads_the_default(capsys, shipped):
    assert resolve_path(EMBEDDED) == PRETRAINED_DIR / f"{EMBEDDED_DEFAULT}.safetensors"
    by_alias = liaviz.load_model(EMBEDDED)
    assert by_alias.config == shipped.config
    for (k, a), (_, b) in zip(
        by_alias.state_dict().items(), shipped.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k
    assert cli_main(["info", EMBEDDED]) == 0
    assert f"{EMBEDDED_DEFAULT}.safetensors" in capsys.readouterr().out


@pytest.mark.parametrize("name", [EMBEDDED, EMBEDDED_DEFAULT])
def test_a_folder_of_the_name_does_not_hide_the_bundled_model(tmp_path, monkeypatch, name):
    """A file of the name wins (the user's own checkpoint); a folder is no checkpoint."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).mkdir()
    assert resolve_path(name) == PRETRAINED_DIR / f"{EMBEDDED_DEFAULT}.safetensors"
    assert cli_main(["info", name]) == 0
    (tmp_path / name).rmdir()
    (tmp_path / name).write_bytes(b"mine")
    assert resolve_path(name).resolve() == tmp_path / name
    with pytest.raises(liaviz.CheckpointError, match="not a checkpoint"):
        liaviz.load_model(name)
    (tmp_path / "other").mkdir()  # a folder that is no bundled name is still named as one
    with pytest.raises(liaviz.CheckpointError, match="is a folder"):
        liaviz.load_model("other")


def test_the_alias_follows_the_default_whatever_its_size(tmp_path, monkeypatch, tiny_model):
    liaviz.save_model(tiny_model, tmp_path / "faces-v9.safetensors")
    monkeypatch.setattr(liaviz.checkpoints.model, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setattr(liaviz.checkpoints.model, "EMBEDDED_DEFAULT", "faces-v9")
    assert liaviz.load_model(EMBEDDED).config == TINY
    with pytest.raises(liaviz.CheckpointError, match="embedded = faces-v9"):
        liaviz.load_model("no-such-model")


def _ratio(model) -> float:
    clips = [video_frames(7, "test", i, 32, 64)[0] for i in range(6)]  # new seed: unseen faces
    model_l1 = np.mean([reconstruction_l1(model, clip) for clip in clips])
    return float(model_l1 / np.mean([copy_source_l1(clip) for clip in clips]))


def test_it_beats_copying_the_source_on_unseen_faces(shipped):
    assert _ratio(shipped) < MAX_RATIO


def test_the_check_fails_for_an_untrained_model(untrained):
    assert _ratio(untrained) >= MAX_RATIO


def _head_transfer_passes(model) -> bool:
    ratios = factor_transfer_ratios(model, seed=7, identities=3)  # unseen people
    assert list(ratios) == list(FACTOR_NAMES)
    return all(ratios[name] < bar for name, bar in HEAD_BARS.items())


def test_it_transfers_the_head_motion_of_unseen_faces(shipped):
    assert _head_transfer_passes(shipped)


def test_the_transfer_check_fails_for_an_untrained_model(untrained):
    assert not _head_transfer_passes(untrained)


def test_change_errors_match_the_model_api_frame_by_frame(tiny_model):
    from liaviz.analysis.transfer import change_errors

    frames = np.random.default_rng(3).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    x = torch.tensor(frames / 127.5 - 1.0, dtype=torch.float32).permute(0, 3, 1, 2)
    with torch.inference_mode():
        state = tiny_model.encode_source(x[:1])
        out = torch.cat(
            [
                tiny_model.decode(
                    state, tiny_model.absolute_latent(state, tiny_model.encode_motion(x[i : i + 1]))
                )
                for i in range(4)
            ]
        )
    out01, x01 = (out.clamp(-1, 1) + 1) / 2, (x + 1) / 2
    want_missed = ((out01[1:] - out01[:1]) - (x01[1:] - x01[:1])).abs().flatten(1).sum(1)
    missed, changed = change_errors(tiny_model, frames)
    np.testing.assert_allclose(missed, want_missed.numpy(), rtol=1e-4)
    np.testing.assert_allclose(changed, (x01[1:] - x01[:1]).abs().flatten(1).sum(1), rtol=1e-5)


def test_latent_reach_starts_from_the_better_code(tiny_model):
    from liaviz.analysis.transfer import (
        change_errors,
        factor_frames,
        latent_reach_ratios,
        unseen_identities,
    )

    # no search: each driving frame scores the better of the encoder's code and the source's own
    # (which misses the whole change), recomputed here from the encoder's per-frame errors
    missed, changed = dict.fromkeys(FACTOR_NAMES, 0.0), dict.fromkeys(FACTOR_NAMES, 0.0)
    for who in unseen_identities(seed=5, count=2):
        frames, names = factor_frames(who, tiny_model.config.size)
        m, c = change_errors(tiny_model, frames)
        for name, mi, ci in zip(names, m, c, strict=True):
            missed[name] += min(mi, ci)
            changed[name] += ci
    flags = [p.requires_grad for p in tiny_model.parameters()]
    at_start = latent_reach_ratios(tiny_model, seed=5, identities=2, steps=0)
    for name in FACTOR_NAMES:
        assert at_start[name] == pytest.approx(missed[name] / changed[name], rel=1e-4)
    assert [p.requires_grad for p in tiny_model.parameters()] == flags  # left as it was


def test_latent_reach_search_improves_on_the_encoder(shipped):
    from liaviz.analysis.transfer import latent_reach_ratios

    encoder = factor_transfer_ratios(shipped, seed=5, identities=1)
    searched = latent_reach_ratios(shipped, seed=5, identities=1, steps=8)
    assert all(searched[n] <= min(encoder[n], 1.0) + 1e-6 for n in FACTOR_NAMES)
    # the decoder renders the head's shifts better than the encoder's codes ask it to
    assert all(searched[n] < encoder[n] - 0.02 for n in ("tx", "ty", "scale"))
