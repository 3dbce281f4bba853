"""train/train.py under faults and misuse: runs that would land on other runs, saves killed
midway, full disks, wrong config values, interrupts, and the accelerate launcher."""

from __future__ import annotations

import errno
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from liaviz.checkpoints import training as checkpoints
from liaviz.training import run_state

from ._train_helpers import (
    REPO,
    TINY_CONFIG,
    TRAIN_SCRIPT,
    make_dataset,
    tiny,
    train_in_process,
)

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


# one thread per test: tiny models on 2 threads spin-wait on each other on a busy 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("clips"), clips=2, frames=6)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def steps(run: Path) -> list[int]:
    return [s for s, _ in checkpoints.list_checkpoints(run / "checkpoints")]


def one_error_line(err: str, *needles: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    return lines[-1]


def test_a_fresh_run_never_lands_on_another_run(data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    every = ["--checkpoint.every", "2", "--checkpoint.keep", "2"]
    assert train_in_process(tiny(data, out, "--max-steps", "4", *every)) == 0
    before = snapshot(out)
    capsys.readouterr()
    # no --resume: refused before anything is written, naming both ways out
    assert train_in_process(tiny(data, out, "--max-steps", "2", *every)) == 2
    one_error_line(capsys.readouterr().err, "--resume auto", "--overwrite", "not empty")
    assert snapshot(out) == before
    # --overwrite: the old run is gone, the new one keeps its checkpoints
    assert train_in_process(tiny(data, out, "--max-steps", "2", *every, "--overwrite")) == 0
    assert steps(out) == [2]
    assert not (out / "checkpoints" / "ckpt_00000004.pt").exists()


def test_overwrite_deletes_only_what_a_run_wrote(data: Path, tmp_path: Path, capsys) -> None:
    """A folder without a run's manifest (config.yaml) is refused whole; in a run folder, the
    user's own files beside the run's stay."""
    project = tmp_path / "project"
    for name in ("samples/my_photo.png", "checkpoints/README.txt", "notes.md"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(name)
    before = snapshot(project)
    assert train_in_process(tiny(data, project, "--max-steps", "2", "--overwrite")) == 2
    one_error_line(capsys.readouterr().err, "not a training run", "config.yaml")
    assert snapshot(project) == before
    run = tmp_path / "run"
    assert train_in_process(tiny(data, run, "--max-steps", "2", "--checkpoint.every", "1")) == 0
    for name in ("samples/my_photo.png", "checkpoints/README.txt", "notes.md"):
        (run / name).parent.mkdir(exist_ok=True)
        (run / name).write_text(name)
    assert train_in_process(tiny(data, run, "--max-steps", "1", "--overwrite")) == 0
    for name in ("samples/my_photo.png", "checkpoints/README.txt", "notes.md"):
        assert (run / name).read_text() == name
    assert steps(run) == [1]


def test_resume_auto_with_only_corrupt_checkpoints_is_refused(data, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert train_in_process(tiny(data, out, "--max-steps", "4", "--checkpoint.every", "2")) == 0
    for _, path in checkpoints.list_checkpoints(out / "checkpoints"):
        path.write_bytes(b"PK\x03\x04 not a checkpoint")
    before = snapshot(out)
    capsys.readouterr()
    with pytest.warns(UserWarning, match="truncated or corrupt"):
        rc = train_in_process(tiny(data, out, "--max-steps", "6", "--resume", "auto"))
    assert rc == 2
    one_error_line(capsys.readouterr().err, "nothing to resume from", "--overwrite")
    assert snapshot(out) == before


def _wrong_shape(ckpt: dict) -> None:
    ckpt["gen"]["dec.direction.weight"] = torch.zeros(3, 3)


def _nan_generator(ckpt: dict) -> None:
    weight = ckpt["gen"]["dec.direction.weight"]
    ckpt["gen"]["dec.direction.weight"] = torch.full_like(weight, math.nan)


CRAFTED = {  # a checkpoint with a valid digest but bad contents
    "no config": (lambda c: c.pop("config"), "'config'"),
    "no rng": (lambda c: c.pop("rng"), "'rng'"),
    "rng of the wrong type": (lambda c: c.update(rng="abc"), "'rng'"),
    "rng entries of the wrong type": (lambda c: c.update(rng=["abc"]), "cannot resume"),
    "step not a number": (lambda c: c.update(step="abc"), "'step'"),
    "config not a mapping": (lambda c: c.update(config="oops"), "'config'"),
    "a config section not a mapping": (lambda c: c["config"].update(model=1), "config"),
    "a generator tensor of the wrong shape": (_wrong_shape, "dec.direction.weight"),
    "a NaN generator": (_nan_generator, "NaN"),
}


@pytest.mark.parametrize("case", CRAFTED)
def test_resume_from_a_checkpoint_with_bad_contents_is_one_line(
    data: Path, tmp_path: Path, capsys, case: str
) -> None:
    out = tmp_path / "run"
    every = ["--checkpoint.every", "2"]
    assert train_in_process(tiny(data, out, "--max-steps", "2", *every)) == 0
    ckpt = checkpoints.load_training_checkpoint(out / "checkpoints" / "ckpt_00000002.pt")
    change, expected = CRAFTED[case]
    change(ckpt)
    ckpt["digest"] = checkpoints.digest(ckpt)  # valid: written as liaviz writes one
    crafted = tmp_path / "crafted.pt"
    torch.save(ckpt, crafted)
    before = snapshot(out)
    capsys.readouterr()
    assert (
        train_in_process(tiny(data, out, "--max-steps", "4", *every, "--resume", str(crafted))) == 2
    )
    one_error_line(capsys.readouterr().err, str(crafted), expected)
    assert snapshot(out) == before


def test_resume_past_a_corrupt_newest_sets_it_aside(data, tmp_path) -> None:
    out = tmp_path / "run"
    every = ["--checkpoint.every", "2", "--checkpoint.keep", "2"]
    assert train_in_process(tiny(data, out, "--max-steps", "4", *every)) == 0
    newest = out / "checkpoints" / "ckpt_00000004.pt"
    newest.write_bytes(newest.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="ckpt_00000004.pt"):
        assert (
            train_in_process(tiny(data, out, "--max-steps", "3", "--resume", "auto", *every)) == 0
        )
    # the run went on from step 2; its step-3 checkpoint was kept, the corrupt one set aside
    assert steps(out) == [3, 2]
    assert (out / "checkpoints" / "ckpt_00000004.pt.corrupt").exists()


def test_retention_keeps_the_checkpoint_just_written(tmp_path: Path) -> None:
    for step in (10, 12):
        checkpoints.save_checkpoint(tmp_path, step, {"gen": {}, "config": {}}, keep=2)
    # a run resumed from an earlier point writes step 4 while 10 and 12 are still there
    path = checkpoints.save_checkpoint(tmp_path, 4, {"gen": {}, "config": {}}, keep=2)
    assert path.exists() and checkpoints.load_training_checkpoint(path)["step"] == 4
    assert [s for s, _ in checkpoints.list_checkpoints(tmp_path)] == [12, 10, 4]
    for step in (5, 6):
        checkpoints.save_checkpoint(tmp_path, step, {"gen": {}, "config": {}}, keep=2)
    assert [s for s, _ in checkpoints.list_checkpoints(tmp_path)] == [12, 10, 6, 5]


_KILL_DURING_SAVE = textwrap.dedent(
    """
    import os, runpy, signal, sys
    import torch
    main = runpy.run_path(sys.argv[1], run_name="train_script")["main"]

    real_save, calls = torch.save, []

    def save_then_die(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) < 2:
            return real_save(obj, f, *args, **kwargs)
        f.write(b"half a checkpoint" * 1000)  # the second save dies midway through writing
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = save_then_die
    sys.exit(main(sys.argv[2:]))
    """
)


def test_temporaries_of_a_save_killed_midway_are_removed(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = tiny(data, out, "--max-steps", "6", "--checkpoint.every", "2")
    r = subprocess.run(
        [sys.executable, "-c", _KILL_DURING_SAVE, str(TRAIN_SCRIPT), *args],
        capture_output=True, text=True, timeout=180, env={**os.environ, **ONE_THREAD}, cwd=REPO,
    )  # fmt: skip
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    ckpts = out / "checkpoints"
    left = [p.name for p in ckpts.iterdir() if p.name.startswith(".")]
    assert len(left) == 1 and left[0].startswith(".ckpt_00000004.pt."), left  # the killed save
    assert steps(out) == [2]
    assert train_in_process(tiny(data, out, "--max-steps", "4", "--resume", "auto")) == 0
    assert sorted(p.name for p in ckpts.iterdir()) == ["ckpt_00000002.pt", "ckpt_00000004.pt"]


class _FullDisk:
    """A file that takes ``room`` bytes, then fails as a full disk does (ENOSPC)."""

    def __init__(self, f, room: int) -> None:
        self.f, self.room = f, room

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


def test_disk_full_during_a_checkpoint_save(data, tmp_path, capsys, monkeypatch) -> None:
    real = torch.save
    # torch.save's zip writer turns the OSError into a RuntimeError ("enforce fail")
    monkeypatch.setattr(torch, "save", lambda obj, f, **kw: real(obj, _FullDisk(f, 5000), **kw))
    out = tmp_path / "run"
    assert train_in_process(tiny(data, out, "--max-steps", "4", "--checkpoint.every", "2")) == 2
    one_error_line(capsys.readouterr().err, "no space left", "ckpt_00000002.pt")
    assert list((out / "checkpoints").iterdir()) == []  # neither a checkpoint nor a temporary


BAD_VALUES = [
    ("--ema.decay", "abc"),
    ("--checkpoint.keep", "x"),
    ("--checkpoint.every", "x"),
    ("--loss.gan", "abc"),
    ("--loss.l1", "abc"),
    ("--loss.r1", "abc"),
    ("--discriminator.stddev_group", "0"),
    ("--log.every", "-1"),
    ("--loss.l1_scales", "[]"),
    ("--train.max_nonfinite", "abc"),
    ("--ema.enabled", "sometimes"),
    ("--train.lr", ".nan"),
    ("--train.seed", "4294967296"),  # numpy's seeds are 32-bit
    ("--model.latent_dim", "3000000000"),  # 12 TB of weights
    ("--model.motion_layers", "100000"),
    ("--model.channel_max", "1000000000000"),
    ("--model.size", "2048"),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_config_values_stop_before_any_work(data, tmp_path, capsys, key, value) -> None:
    out = tmp_path / "run"
    assert train_in_process(tiny(data, out, key, value)) == 2
    one_error_line(capsys.readouterr().err, key.removeprefix("--"), "must be")
    assert not out.exists()


def test_a_config_file_that_is_not_utf8_is_one_line(data, tmp_path, capsys) -> None:
    config = tmp_path / "binary.yaml"
    config.write_bytes(b"model:\n  size: 64\n\xff\xfe\x00garbage")
    out = tmp_path / "run"
    assert train_in_process(["--config", str(config), "--data", str(data), "--out", str(out)]) == 2
    one_error_line(capsys.readouterr().err, "binary.yaml", "not a UTF-8 text file")
    assert not out.exists()


def test_every_setting_has_a_type_and_a_range() -> None:
    from liaviz.training import run_config

    names = {f"{s}.{k}" for s, values in run_config.DEFAULTS.items() for k in values}
    assert set(run_config.SCHEMA) == names
    run_config.validate(run_config.load_config(None))
    for name in sorted(names):  # a mapping is the right type for no setting
        section, key = name.split(".")
        config = run_config.load_config(TINY_CONFIG)
        config[section][key] = {"a": 1}
        with pytest.raises(run_config.UserError, match=rf"^config: {name} must be"):
            run_config.validate(config)


def test_interrupt_is_one_line(data: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    real = checkpoints.save_checkpoint

    def save_then_ctrl_c(folder, step, payload, keep):
        real(folder, step, payload, keep)
        raise KeyboardInterrupt  # what Python raises on SIGINT

    monkeypatch.setattr(run_state, "save_checkpoint", save_then_ctrl_c)
    out = tmp_path / "run"
    assert train_in_process(tiny(data, out, "--max-steps", "9", "--checkpoint.every", "2")) == 130
    one_error_line(capsys.readouterr().err, "train.py: interrupted", "--resume auto")


def test_sigterm_ends_training_like_an_interrupt(data: Path, tmp_path: Path, capsys, monkeypatch):
    real = checkpoints.save_checkpoint

    def save_then_terminate(folder, step, payload, keep):
        path = real(folder, step, payload, keep)
        os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread, at the next bytecode
        return path

    monkeypatch.setattr(run_state, "save_checkpoint", save_then_terminate)
    out = tmp_path / "run"
    assert train_in_process(tiny(data, out, "--max-steps", "9", "--checkpoint.every", "2")) == 143
    one_error_line(capsys.readouterr().err, "terminated", "ckpt_00000002.pt")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler was restored


def readme_launcher() -> list[str]:
    """The `accelerate launch` options of the README's resume line (before train/train.py)."""
    readme = (REPO / "README.md").read_text()
    (line,) = [
        x for x in readme.splitlines() if x.startswith("accelerate launch") and "--resume" in x
    ]
    words = line.split()
    return words[2 : words.index("train/train.py")]


def test_accelerate_launch_with_bad_data_is_one_clean_line(tmp_path: Path) -> None:
    """As the README launches it: train.py's one-line error and nothing after it (without `-q`
    `accelerate launch` re-raises the child's exit status as a CalledProcessError traceback)."""
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", *readme_launcher(), "--cpu",
        "--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", str(TRAIN_SCRIPT), "--config", str(TINY_CONFIG),
        "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    r = subprocess.run(
        cmd, capture_output=True, text=True, timeout=180, env={**os.environ, **ONE_THREAD}
    )
    assert r.returncode != 0
    assert "CalledProcessError" not in r.stderr
    one_error_line(r.stderr, "train.py: error:", "missing")


def test_resume_from_a_training_checkpoint_named_safetensors(data, tmp_path) -> None:
    out = tmp_path / "run"
    assert train_in_process(tiny(data, out, "--max-steps", "2", "--checkpoint.every", "2")) == 0
    renamed = tmp_path / "ckpt.safetensors"
    renamed.write_bytes((out / "checkpoints" / "ckpt_00000002.pt").read_bytes())
    other = tmp_path / "other"
    assert train_in_process(tiny(data, other, "--max-steps", "3", "--resume", str(renamed))) == 0
    assert steps(other) == [3]
    ckpt = torch.load(other / "checkpoints" / "ckpt_00000003.pt", weights_only=True)
    assert ckpt["step"] == 3
