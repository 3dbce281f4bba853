"""Checkpoint loading and saving: formats, round trips, and refusing what is unsafe or wrong."""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys

import pytest
import torch

import liaviz
import liaviz.checkpoint
from liaviz import LIA, CheckpointError, LIAConfig, load_model
from liaviz.cli import main as cli_main

from .conftest import TINY


class _Payload:
    """Unpickling this would create a file: the proof that a loader ran foreign code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def tiny_file(tmp_path, tiny_model):
    path = tmp_path / "tiny.safetensors"
    tiny_model.save(path, metadata={"note": "made by a test"})
    return path


def _outputs(model: LIA) -> torch.Tensor:
    torch.manual_seed(3)
    x = torch.rand(2, 3, model.config.size, model.config.size) * 2 - 1
    with torch.inference_mode():
        return model(x, x.flip(0))


def test_safetensors_round_trip_is_bit_exact(tiny_file, tiny_model):
    loaded = load_model(tiny_file)
    assert loaded.config == TINY
    assert not loaded.training
    assert torch.equal(_outputs(loaded), _outputs(tiny_model))
    ckpt = liaviz.load_checkpoint(tiny_file)
    assert ckpt.format == "liaviz-safetensors" and ckpt.metadata["note"] == "made by a test"


def test_config_travels_in_the_file(tmp_path):
    config = LIAConfig(size=32, latent_dim=24, motion_dim=5, channel_multiplier=0.1, channel_max=20)
    LIA(config).save(tmp_path / "m.safetensors")
    assert load_model(tmp_path / "m.safetensors").config == config


def test_official_layouts_load(tmp_path, tiny_model):
    state = tiny_model.state_dict()
    official = tmp_path / "official.pt"
    torch.save({"gen": state}, official)
    training = tmp_path / "training.pt"
    torch.save(
        {
            "gen": state,
            "dis": {"convs.0.0.weight": torch.zeros(1)},
            "g_optim": {"state": {}, "param_groups": []},
            "d_optim": {"state": {}, "param_groups": []},
            "args": argparse.Namespace(size=64, batch_size=32, lr=0.002),
        },
        training,
    )
    bare = tmp_path / "bare.pt"
    torch.save({f"module.{k}": v for k, v in state.items()}, bare)
    expected = _outputs(tiny_model)
    for path, fmt in [
        (official, "official"),
        (training, "official-training"),
        (bare, "state_dict"),
    ]:
        assert liaviz.load_checkpoint(path).format == fmt
        model = load_model(path)
        assert model.config == TINY
        assert torch.equal(_outputs(model), expected)
    assert "batch_size" in liaviz.load_checkpoint(training).metadata["args"]


@pytest.mark.parametrize("zip_format", [True, False])
def test_a_pickle_that_runs_code_is_refused_and_does_not_run(tmp_path, zip_format):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    if zip_format:
        torch.save({"gen": _Payload(marker)}, path)
    else:
        with open(path, "wb") as f:
            pickle.dump({"gen": _Payload(marker)}, f, protocol=2)
    with pytest.raises(CheckpointError, match="refused to unpickle"):
        load_model(path)
    assert not marker.exists()


def test_truncated_files_are_reported(tmp_path, tiny_model, tiny_file):
    pt = tmp_path / "model.pt"
    torch.save({"gen": tiny_model.state_dict()}, pt)
    for path in (pt, tiny_file):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(CheckpointError, match="truncated or corrupt"):
            load_model(path)


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a model\n")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_model(text)
    other = tmp_path / "other.pt"
    torch.save([1, 2, 3], other)
    with pytest.raises(CheckpointError, match="not a LIA checkpoint"):
        load_model(other)
    with pytest.raises(CheckpointError, match="no such file"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_model(tmp_path)


def test_missing_and_unexpected_keys_are_listed(tmp_path, tiny_model):
    state = tiny_model.state_dict()
    del state["dec.conv1.conv.weight"]
    state["dec.extra.weight"] = torch.zeros(3)
    path = tmp_path / "broken.pt"
    torch.save({"gen": state}, path)
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    message = str(err.value)
    assert "missing keys dec.conv1.conv.weight" in message and "dec.extra.weight" in message
    assert "\n" not in message
    fomm = tmp_path / "fomm.pt"
    torch.save({"generator": {"kp.weight": torch.zeros(1)}}, fomm)
    with pytest.raises(CheckpointError, match="not a LIA"):
        load_model(fomm)


def test_another_size_or_motion_dim_is_named(tmp_path):
    config = LIAConfig(
        size=128, motion_dim=40, latent_dim=64, channel_multiplier=0.0625, channel_max=16
    )
    path = tmp_path / "m.pt"
    torch.save({"gen": LIA(config).state_dict()}, path)
    with pytest.raises(CheckpointError, match="size-128, M=40 model"):
        load_model(path, size=256)
    with pytest.raises(CheckpointError, match="size-128, M=40 model"):
        load_model(path, motion_dim=20)
    assert load_model(path, size=128, motion_dim=40).config.motion_dim == 40


def test_inconsistent_shapes_are_reported(tmp_path, tiny_model):
    state = tiny_model.state_dict()
    state["dec.convs.3.conv.weight"] = torch.zeros(1, 7, 7, 3, 3)
    path = tmp_path / "odd.pt"
    torch.save({"gen": state}, path)
    with pytest.raises(CheckpointError, match="dec.convs.3.conv.weight"):
        load_model(path)


def test_a_failed_save_keeps_the_previous_file(tmp_path, tiny_model, monkeypatch, tiny_file):
    before = tiny_file.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(liaviz.checkpoint, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        tiny_model.save(tiny_file)
    assert tiny_file.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [tiny_file.name]
    with pytest.raises(CheckpointError, match="does not exist"):
        tiny_model.save(tmp_path / "no" / "such" / "dir.safetensors")


def test_load_model_moves_to_the_device(tiny_file):
    model = load_model(tiny_file, device="cpu")
    assert next(model.parameters()).device.type == "cpu"


def test_cli_info(tiny_file, capsys):
    assert cli_main(["info", str(tiny_file)]) == 0
    out = capsys.readouterr().out
    assert "motion_dim           6" in out and "made by a test" in out and "total" in out
    assert cli_main(["info", "--json", str(tiny_file)]) == 0
    assert '"format": "liaviz-safetensors"' in capsys.readouterr().out


def test_cli_info_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 garbage")
    result = subprocess.run(
        [sys.executable, "-m", "liaviz.cli", "info", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "truncated or corrupt" in result.stderr
    assert "Traceback" not in result.stderr
