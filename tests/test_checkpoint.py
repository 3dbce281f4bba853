"""Checkpoint loading and saving: formats, round trips, and refusing what is unsafe or wrong."""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys

import pytest
import torch

import liaviz
import liaviz.checkpoints.model
from liaviz import LIA, CheckpointError, LIAConfig, load_model
from liaviz.checkpoints.training import CorruptCheckpoint, load_training_checkpoint, save_checkpoint
from liaviz.cli import main as cli_main

from ._media import moving_frames, write_mp4, write_png
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
    liaviz.save_model(tiny_model, path, metadata={"note": "made by a test"})
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
    liaviz.save_model(LIA(config), tmp_path / "m.safetensors")
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


def test_a_missing_motion_dictionary_is_a_missing_key(tmp_path, tiny_model, capsys):
    """Not "a shape mismatch in enc.fc": with no dictionary the motion MLP would end in
    latent_dim codes, so a file whose MLP ends in M codes lacks its dictionary."""
    state = tiny_model.state_dict()
    del state["dec.direction.weight"]
    path = tmp_path / "nodir.pt"
    torch.save({"gen": state}, path)
    with pytest.raises(CheckpointError, match="missing keys dec.direction.weight") as err:
        load_model(path)
    assert "shape" not in str(err.value)
    assert cli_main(["info", str(path)]) == 2
    assert "missing keys dec.direction.weight" in capsys.readouterr().err


@pytest.mark.parametrize(
    "dtype, fmt, which",
    [
        (torch.int64, "pt", "all"),
        (torch.int64, "safetensors", "one"),
        (torch.int32, "pt", "one"),
        (torch.uint8, "safetensors", "all"),
        (torch.bool, "pt", "one"),
    ],
)
def test_weights_that_are_not_floating_point_are_refused(tmp_path, tiny_model, dtype, fmt, which):
    from safetensors.torch import save_file

    state = tiny_model.state_dict()
    keys = list(state) if which == "all" else ["dec.convs.3.conv.weight"]
    for k in keys:
        state[k] = state[k].to(dtype)
    path = tmp_path / f"w.{fmt}"
    if fmt == "pt":
        torch.save({"gen": state}, path)
    else:
        save_file(state, path, metadata={"config": json.dumps(tiny_model.config.to_dict())})
    name = str(dtype).removeprefix("torch.")
    with pytest.raises(CheckpointError, match=f"hold {name} values") as err:
        load_model(path)
    assert "dec.convs.3.conv.weight" in str(err.value) or which == "all"
    with pytest.raises(CheckpointError, match=f"hold {name} values"):
        liaviz.checkpoints.model.describe(liaviz.load_checkpoint(path))  # what `liaviz info` shows


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
    for asked, named in (({"size": 0}, "but size=0 was"), ({"motion_dim": 0}, "but M=0 was")):
        with pytest.raises(CheckpointError, match=named):  # 0 is asked, not "nothing asked"
            load_model(path, **asked)


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

    monkeypatch.setattr(liaviz.checkpoints.model, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        liaviz.save_model(tiny_model, tiny_file)
    assert tiny_file.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [tiny_file.name]
    with pytest.raises(CheckpointError, match="does not exist"):
        liaviz.save_model(tiny_model, tmp_path / "no" / "such" / "dir.safetensors")


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


def test_cli_output_into_a_closed_pipe_is_no_error(tiny_file):
    # `liaviz info x | head -1`: the reader is gone before liaviz has written everything
    proc = subprocess.Popen(
        [sys.executable, "-m", "liaviz.cli", "info", str(tiny_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141  # what `cat f | head` reports for cat
    assert stderr == ""


@pytest.mark.parametrize("redirect", [">&-", "> /dev/full"])
@pytest.mark.parametrize("command", ["info", "info --json"])
def test_stdout_closed_or_full_is_one_line(tiny_file, redirect, command):
    line = f"{sys.executable} -m liaviz.cli {command} {tiny_file} {redirect}"
    r = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=300)
    if redirect == ">&-":  # nothing to print to is no error
        assert r.returncode == 0 and r.stderr == "", r.stderr
    else:
        assert r.returncode == 2 and "No space left" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_a_broken_pipe_elsewhere_is_still_an_error(monkeypatch, tiny_file):
    # stdout is fine (pytest's capture file): a pipe broken inside a command is not `| head`
    def run(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("liaviz.commands.info.run", run)
    with pytest.raises(BrokenPipeError):
        cli_main(["info", str(tiny_file)])


# ---- format detection by parsing, and files that only look fine --------------------------------


def _save_with_header_low_byte(model: LIA, path, low: int) -> None:
    """Save ``model`` with a padding note sized so that the safetensors header length's first
    (low) byte is ``low``: what 1 in 256 of all headers, and 1 in 32 of liaviz's, start with."""
    liaviz.save_model(model, path, metadata={"pad": ""})
    # the header grows by one byte per padding character, then is aligned to 8 bytes
    near = (low - path.read_bytes()[0]) % 256
    for pad in range(max(near - 8, 0), near + 9):
        liaviz.save_model(model, path, metadata={"pad": "x" * pad})
        if path.read_bytes()[0] == low:
            return
    raise AssertionError("no padding gave that header length")


@pytest.mark.parametrize("name", ["m.safetensors", "m.bin"])
def test_safetensors_whose_header_length_starts_with_0x80(tmp_path, tiny_model, name):
    path = tmp_path / name
    _save_with_header_low_byte(tiny_model, path, 0x80)  # 0x80 also starts a pickle
    ckpt = liaviz.load_checkpoint(path)
    assert ckpt.format == "liaviz-safetensors" and ckpt.metadata["pad"].startswith("x")
    loaded = load_model(path).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in tiny_model.state_dict().items())


def test_file_names_do_not_decide_the_format(tmp_path, tiny_model):
    renamed = tmp_path / "official.safetensors"  # a .pt under a safetensors name
    torch.save({"gen": tiny_model.state_dict()}, renamed)
    assert liaviz.load_checkpoint(renamed).format == "official"
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.safetensors"  # a pickle under a safetensors name
    with open(evil, "wb") as f:
        pickle.dump({"gen": _Payload(marker)}, f, protocol=2)
    with pytest.raises(CheckpointError, match="refused to unpickle"):
        load_model(evil)
    assert not marker.exists()


@pytest.mark.parametrize(
    "data",
    [
        (90_000_000).to_bytes(8, "little") + b'{"a": 1}',  # a header length past the file's end
        (9).to_bytes(8, "little") + b"[1, 2, 3]",  # JSON, but no header object
        (7).to_bytes(8, "little") + b'{"a": 1',  # the stated header is not JSON
        b"\x80\x04" + b"\x00" * 30,  # a pickle opcode and then garbage
    ],
)
def test_broken_headers_are_one_line_errors(tmp_path, data, capsys):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match="broken.safetensors: (not a checkpoint|truncated)"):
        liaviz.load_checkpoint(path)
    assert cli_main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def _with_state(path, state, config=None):
    from safetensors.torch import save_file

    meta = {"format": "liaviz", "format_version": "1"}
    if config is not None:
        meta["config"] = json.dumps(config.to_dict())
    save_file({k: v.contiguous() for k, v in state.items()}, path, metadata=meta)
    return path


def test_info_refuses_what_load_model_refuses(tmp_path, tiny_model, capsys):
    state = tiny_model.state_dict()
    missing = dict(state)
    del missing["dec.conv1.conv.weight"]
    nan = {k: v.clone() for k, v in state.items()}
    nan["dec.conv1.conv.weight"][0] = float("nan")
    wider = LIAConfig(**{**TINY.to_dict(), "latent_dim": 48})
    cases = {
        "wrong config": (_with_state(tmp_path / "cfg.safetensors", state, wider), "other shapes"),
        "missing key": (_with_state(tmp_path / "key.safetensors", missing, TINY), "missing keys"),
        "NaN weights": (_with_state(tmp_path / "nan.safetensors", nan, TINY), "NaN"),
    }
    for case, (path, expected) in cases.items():
        with pytest.raises(CheckpointError, match=expected):
            load_model(path)
        assert cli_main(["info", str(path)]) == 2, case
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, (case, err)


def test_training_checkpoints_hold_plain_data_only(tmp_path):
    path = save_checkpoint(tmp_path, 3, {"step": 3, "weights": torch.ones(2)}, keep=2)
    assert load_training_checkpoint(path)["step"] == 3
    # what an official file may hold is still refused in a training checkpoint
    torch.save({"format": "x", "args": argparse.Namespace(lr=1.0)}, tmp_path / "ns.pt")
    with pytest.raises(CorruptCheckpoint, match="refused to unpickle"):
        load_training_checkpoint(tmp_path / "ns.pt")
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptCheckpoint, match="truncated or corrupt"):
        load_training_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(CorruptCheckpoint, match="no such checkpoint"):
        load_training_checkpoint(tmp_path / "missing.pt")


# ---- crafted files: bounded before anything is built or walked ----------------------------------


def _every_reader(path, folder) -> dict[str, list[str]]:
    """Every command that reads a checkpoint, on ``path`` (inputs in ``folder``)."""
    source = write_png(folder / "face.png", moving_frames(1, 64)[0])
    driving = write_mp4(folder / "drive.mp4", moving_frames(3, 64), fps=10)
    return {
        "info": ["info", str(path)],
        "info --json": ["info", "--json", str(path)],
        "animate": ["animate", "--checkpoint", str(path), "--source", str(source), "--driving",
                    str(driving), "--out", str(folder / "a.mp4"), "--no-progress"],
        "export": ["export", str(path), str(folder / "e.safetensors")],
        "directions": ["directions", str(path), "--out", str(folder / "d")],
        "demo": ["demo", "--checkpoint", str(path), "--out", str(folder / "demo")],
    }  # fmt: skip


def _refused_by_every_reader(path, folder, capsys, expected: str) -> None:
    for command, argv in _every_reader(path, folder).items():
        capsys.readouterr()
        assert cli_main(argv) == 2, command
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, (command, err)
    written = {p.name for p in folder.iterdir() if p.is_file()} - {
        path.name,
        "face.png",
        "drive.mp4",
    }
    assert not written and not any(p.is_file() for p in (folder / "demo").rglob("*"))


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("latent_dim", 3_000_000_000, "latent_dim must be at most"),
        ("motion_layers", 100_000, "motion_layers must be at most"),
        ("channel_max", 10**12, "channel_max must be at most"),
        ("channel_multiplier", float("nan"), "channel_multiplier must be finite"),
        ("channel_multiplier", float("inf"), "channel_multiplier must be finite"),
        ("latent_dim", 128.5, "latent_dim must be an integer"),
        ("size", "64", "size must be an integer"),
        ("motion_dictionary", "no", "motion_dictionary must be true or false"),
    ],
)
def test_a_crafted_config_is_refused_before_a_model_is_built(
    tmp_path, tiny_model, capsys, field, value, expected
):
    from safetensors.torch import save_file

    path = tmp_path / "crafted.safetensors"
    config = {**TINY.to_dict(), field: value}
    meta = {"format": "liaviz", "format_version": "1", "config": json.dumps(config)}
    save_file({k: v.contiguous() for k, v in tiny_model.state_dict().items()}, path, meta)
    with pytest.raises(CheckpointError, match=expected):
        load_model(path)
    _refused_by_every_reader(path, tmp_path, capsys, expected)


def test_a_config_whose_weights_do_not_fit_builds_no_model(tmp_path, tiny_model, monkeypatch):
    """The biggest config the bounds allow, over a tiny model's weights: refused from the shapes
    alone, before the 10-billion-parameter model is allocated."""
    huge = dict(size=1024, latent_dim=8192, motion_dim=1024, channel_max=4096,
                channel_multiplier=64.0, motion_layers=64)  # fmt: skip
    path = _with_state(tmp_path / "huge.safetensors", tiny_model.state_dict(), LIAConfig(**huge))
    built = []
    monkeypatch.setattr(LIA, "__init__", _recording(LIA.__init__, built))
    with pytest.raises(CheckpointError, match="missing keys|other shapes"):
        load_model(path)
    assert built == ["meta"]


def _recording(init, devices):
    def recorded(self, *args, **kwargs):
        devices.append(torch.empty(0).device.type)  # the default device it is built on
        return init(self, *args, **kwargs)

    return recorded


def _nested(depth: int) -> list:
    nest: list = [1]
    for _ in range(depth - 1):
        nest = [nest]
    return nest


def _doubled(times: int) -> list:
    a: list = [1]
    for _ in range(times):
        a = [a, a]  # 3 MB pickled (shared), 2**times values to json.dumps
    return a


@pytest.mark.parametrize("args", ["contains itself", "5000 deep", "exponential"])
def test_official_args_that_are_no_plain_data_are_one_line_errors(
    tmp_path, tiny_model, capsys, args
):
    ns = argparse.Namespace(size=64)
    if args == "contains itself":
        ns.me = ns
    elif args == "5000 deep":
        ns.nest = _nested(5000)
    else:
        ns.a = _doubled(40)
    path = tmp_path / "official.pt"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # for pickle to write it; the reader must not need this
    try:
        torch.save({"gen": tiny_model.state_dict(), "args": ns}, path)
    finally:
        sys.setrecursionlimit(limit)
    expected = "'args' is"
    with pytest.raises(CheckpointError, match=expected):
        liaviz.load_checkpoint(path)
    _refused_by_every_reader(path, tmp_path, capsys, expected)


def test_a_changed_training_checkpoint_is_refused_wherever_it_is_read(tmp_path, tiny_model, capsys):
    payload = {"gen": tiny_model.state_dict(), "model_config": TINY.to_dict(), "step": 1}
    path = save_checkpoint(tmp_path / "ckpts", 1, payload, keep=1)
    assert cli_main(["info", str(path)]) == 0
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(tiny_model.state_dict()["dec.direction.weight"].numpy().tobytes()[:64])
    raw[at + 8] ^= 0x40  # one bit of the generator
    changed = tmp_path / "changed.pt"
    changed.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="do not match their digest"):
        load_model(changed)
    _refused_by_every_reader(changed, tmp_path, capsys, "do not match their digest")
