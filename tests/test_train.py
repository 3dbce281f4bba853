"""train/train.py end to end on generated clips: DDP on two CPU processes, learning, exact
resume, corrupt and killed runs, the non-finite guard, configs, export."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import liaviz
from liaviz.nn.synthesis import identity_grid

from ._media import ALIASES, aliases, single_thread
from ._train_helpers import (
    REPO,
    TINY_CONFIG,
    TRAIN_SCRIPT,
    loss_rows,
    make_dataset,
    nan_loss_at,
    read_log,
    run_train,
    tiny,
    train_in_process,
)

# One thread per process: on a shared 2-core machine, 2-thread OpenMP runs spin against each
# other and against the second DDP process.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("clips"), clips=3, frames=8)


def free_port() -> int:
    """A port nobody listens on (several test runs may share this machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_cpu_ddp(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--main_process_port", str(free_port()),
        "--mixed_precision", "no", "--dynamo_backend", "no",
        str(TRAIN_SCRIPT),
        *tiny(data, out, "--max-steps", "6", "--checkpoint.every", "3", "--log.every", "1",
              "--train.grad_accum", "2"),
    ]  # fmt: skip
    env = {**os.environ, **ONE_THREAD, "ACCELERATE_USE_CPU": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 process(es)" in proc.stdout and "batch 4 = 2 x 2 x 1" in proc.stdout
    # at every checkpoint both ranks reported the same step and bit-identical G and D weights
    events = [r["event"] for r in read_log(out) if "event" in r]
    assert sum("2 process(es) in sync" in e for e in events) == 2, events
    rows = loss_rows(out)
    assert sorted(rows) == [1, 2, 3, 4, 5, 6]
    assert all(r["loss/l1"] > 0 for r in rows.values())
    model = liaviz.load_model(out / "generator.safetensors")
    assert model.config.size == 32
    state = model.encode_source(torch.zeros(1, 3, 32, 32))
    assert model.decode(state, model.self_latent(state)).shape == (1, 3, 32, 32)


def test_learning_happens(tmp_path: Path, one_thread) -> None:
    """One short clip, the tiny model, the full recipe (L1 + GAN): L1 halves in 120 steps."""
    one = make_dataset(tmp_path / "one", clips=1, frames=12)
    out = tmp_path / "learn"
    rc = train_in_process(tiny(one, out, "--max-steps", "120", "--log.every", "1"))
    assert rc == 0
    l1 = [r["loss/l1"] for _, r in sorted(loss_rows(out).items())]
    first, last = sum(l1[:5]) / 5, sum(l1[-20:]) / 20
    assert last <= 0.5 * first, (first, last)


def test_resume_is_exact(data: Path, tmp_path: Path, one_thread) -> None:
    # explicit gradient accumulation, EMA, lazy R1 and flips all take part
    extra = [
        "--log.every", "1", "--checkpoint.every", "10", "--train.grad_accum", "2",
        "--ema.enabled", "true", "--loss.r1", "1.0", "--train.d_reg_every", "4",
        "--data.flip", "true",
    ]  # fmt: skip
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train_in_process(tiny(data, whole, "--max-steps", "20", *extra)) == 0
    assert train_in_process(tiny(data, split, "--max-steps", "10", *extra)) == 0
    assert train_in_process(tiny(data, split, "--max-steps", "20", "--resume", "auto", *extra)) == 0
    a, b = loss_rows(whole), loss_rows(split)
    assert sorted(b) == list(range(1, 21))
    for step in range(11, 21):
        for key in ("loss/l1", "loss/g_total", "loss/d", "loss/r1"):
            if key in a[step]:
                assert b[step][key] == pytest.approx(a[step][key], rel=1e-5, abs=1e-7), (step, key)
    ca = torch.load(whole / "checkpoints" / "ckpt_00000020.pt", weights_only=True)
    cb = torch.load(split / "checkpoints" / "ckpt_00000020.pt", weights_only=True)
    for part in ("gen", "dis", "gen_ema"):
        for k in ca[part]:
            torch.testing.assert_close(ca[part][k], cb[part][k], rtol=1e-5, atol=1e-6)


def test_lr_decay_follows_the_cosine_across_a_resume(data: Path, tmp_path: Path, one_thread):
    extra = ["--log.every", "1", "--checkpoint.every", "10", "--train.lr_decay_from", "5"]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert train_in_process(tiny(data, whole, "--max-steps", "20", *extra)) == 0
    # resume the same run from its step-10 checkpoint, where the saved optimizer holds a
    # decayed lr: the schedule must come from the step, not from what the optimizer holds
    (resumed / "checkpoints").mkdir(parents=True)
    ckpt = whole / "checkpoints" / "ckpt_00000010.pt"
    (resumed / "checkpoints" / ckpt.name).write_bytes(ckpt.read_bytes())
    assert (
        train_in_process(tiny(data, resumed, "--max-steps", "20", "--resume", "auto", *extra)) == 0
    )
    a, b = loss_rows(whole), loss_rows(resumed)
    g_lr = 0.002 * 4 / 5  # lazy-regularization ratio 4/5
    for step in range(1, 21):  # row s logs the lr step s-1 ran with
        expected = g_lr * (1 if step <= 6 else 0.5 * (1 + math.cos(math.pi * (step - 6) / 15)))
        assert a[step]["lr/g"] == pytest.approx(expected, rel=1e-6), step
    assert a[20]["lr/g"] < g_lr * 0.02
    for step in range(11, 21):
        assert b[step]["lr/g"] == pytest.approx(a[step]["lr/g"], rel=1e-6), step
        assert b[step]["loss/g_total"] == pytest.approx(a[step]["loss/g_total"], rel=1e-5), step


def test_corrupt_newest_checkpoint_falls_back(data: Path, tmp_path: Path, one_thread) -> None:
    out = tmp_path / "run"
    extra = ["--checkpoint.every", "3", "--log.every", "1"]
    assert train_in_process(tiny(data, out, "--max-steps", "6", *extra)) == 0
    newest = out / "checkpoints" / "ckpt_00000006.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # truncated
    with pytest.warns(UserWarning, match="ckpt_00000006.pt: truncated or corrupt"):
        rc = train_in_process(tiny(data, out, "--max-steps", "8", "--resume", "auto", *extra))
    assert rc == 0
    rows = loss_rows(out)
    assert 4 in rows and 8 in rows  # steps 4.. were redone from the step-3 checkpoint
    assert (out / "checkpoints" / "ckpt_00000008.pt").exists()
    # naming a corrupt checkpoint explicitly is an error, not a silent fallback
    newest.write_bytes(b"PK\x03\x04 garbage")
    assert train_in_process(tiny(data, out, "--max-steps", "9", "--resume", str(newest))) == 2


def test_checkpoint_digest_catches_changed_bytes(tmp_path: Path) -> None:
    from liaviz.checkpoints import training as checkpoints

    pattern = torch.full((4096,), 1.2345)
    path = checkpoints.save_checkpoint(tmp_path, 7, {"gen": {"w": pattern}, "config": {}}, keep=3)
    assert checkpoints.load_training_checkpoint(path)["step"] == 7
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(pattern[:4].numpy().tobytes())
    raw[at + 100] ^= 0x40  # one flipped bit inside the tensor's data: the zip stays readable
    path.write_bytes(bytes(raw))
    with pytest.raises(checkpoints.CorruptCheckpoint, match="digest"):
        checkpoints.load_training_checkpoint(path)
    # keep-K: only the newest K survive
    for step in (8, 9, 10):
        checkpoints.save_checkpoint(tmp_path, step, {"gen": {}, "config": {}}, keep=2)
    assert [s for s, _ in checkpoints.list_checkpoints(tmp_path)] == [10, 9]


def test_sigkill_then_resume(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    args = tiny(data, out, "--max-steps", "100000", "--checkpoint.every", "4", "--log.every", "1")
    env = {**os.environ, **ONE_THREAD}
    proc = subprocess.Popen(
        [sys.executable, str(TRAIN_SCRIPT), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO,
    )  # fmt: skip

    def wait_for(path: Path) -> None:
        deadline = time.monotonic() + 120
        while not path.exists():
            assert proc.poll() is None, "training exited early"
            assert time.monotonic() < deadline, f"no {path.name} within 120 s"
            time.sleep(0.1)

    try:
        wait_for(out / "checkpoints" / "ckpt_00000008.pt")
        (out / "EXPORT").touch()  # export on demand, while it runs
        wait_for(out / "generator.safetensors")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    newest = max(int(p.stem.split("_")[1]) for p in (out / "checkpoints").glob("ckpt_*.pt"))
    done = run_train(
        ["--out", str(out), "--resume", "auto", "--max-steps", str(newest + 3)], env=ONE_THREAD
    )  # the run's own config.yaml is used
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"ckpt_{newest:08d}.pt at step {newest}" in done.stdout
    assert not (out / "EXPORT").exists()
    exported = liaviz.load_checkpoint(out / "generator.safetensors")
    assert exported.metadata["step"] == str(newest + 3) and exported.config.size == 32
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.startswith(".")]


def test_nonfinite_losses_skip_updates_then_stop(data: Path, tmp_path: Path, one_thread, capsys):
    out = tmp_path / "nan"
    rc = train_in_process(
        tiny(data, out, "--max-steps", "5", "--log.every", "1"), loss_hook=nan_loss_at(2)
    )
    assert rc == 0
    rows = loss_rows(out)
    assert rows[3]["loss/g_total"] == "nan" and rows[5]["nonfinite_steps"] == 1
    assert isinstance(rows[5]["loss/g_total"], float)  # finite again
    model = liaviz.load_model(out / "generator.safetensors")
    assert all(torch.isfinite(p).all() for p in model.parameters())

    out = tmp_path / "nan3"
    rc = train_in_process(
        tiny(data, out, "--max-steps", "9", "--train.max_nonfinite", "3"),
        loss_hook=nan_loss_at(1, 2, 3, 4),
    )
    assert rc == 1
    err = capsys.readouterr().err
    assert "step 3" in err and "nan" in err and "3 non-finite losses in a row" in err


def _decode_self(run: Path):
    """The run's exported generator decoding a fixed random image at its own pose, with flows
    and masks."""
    model = liaviz.load_model(run / "generator.safetensors")
    size = model.config.size
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        state = model.encode_source(x)
        return model.decode(state, model.self_latent(state), return_flows=True)


def test_zero_init_heads_start_every_level_as_an_identity_warp(
    data: Path, tmp_path: Path, one_thread
):
    out = tmp_path / "run"
    extra = ["--max-steps", "1", "--train.zero_init_heads", "true", "--train.lr", "1.0e-9"]
    assert train_in_process(tiny(data, out, *extra)) == 0
    result = _decode_self(out)  # one step at lr 1e-9: still the init
    for flow, mask in zip(result.flows, result.masks, strict=True):
        grid = identity_grid(flow.shape[1]).expand_as(flow)
        torch.testing.assert_close(flow, grid, atol=1e-6, rtol=0)
        torch.testing.assert_close(mask, torch.full_like(mask, 0.5), atol=1e-6, rtol=0)
    assert result.image.std(dim=(2, 3)).max() < 1e-5  # RGB heads at zero: a flat image
    # the default (the paper's) keeps the random heads
    assert train_in_process(tiny(data, tmp_path / "paper", "--max-steps", "1")) == 0
    assert (_decode_self(tmp_path / "paper").masks[-1] - 0.5).abs().max() > 1e-3


def test_no_dictionary_ablation_trains_and_exports(data: Path, tmp_path: Path, one_thread):
    out = tmp_path / "nodict"
    assert (
        train_in_process(tiny(data, out, "--max-steps", "2", "--motion.dictionary", "false")) == 0
    )
    model = liaviz.load_model(out / "generator.safetensors")
    assert model.config.motion_dictionary is False
    assert "dec.direction.weight" not in model.state_dict()
    assert model.enc.fc[-1].weight.shape[0] == model.config.latent_dim  # the MLP outputs w


def test_paper_config_needs_vgg_weights(data: Path, tmp_path: Path, capsys) -> None:
    vox = REPO / "train" / "configs" / "vox256.yaml"
    rc = train_in_process(["--config", str(vox), "--data", str(data), "--out", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--loss.vgg_weights" in err and "--loss.perceptual none" in err
    assert len(err.strip().splitlines()) == 1


def test_config_overrides_and_resolved_config(tmp_path: Path) -> None:
    import yaml

    from liaviz.training import run_config

    configs = sorted((REPO / "train" / "configs").glob("*.yaml"))
    assert len(configs) >= 7  # the paper's three, tiny, and the embedded models' recipes
    for path in configs:
        run_config.validate(run_config.load_config(path))
    taichi = run_config.load_config(REPO / "train" / "configs" / "taichi256.yaml")
    assert taichi["data"]["flip"] is True and taichi["data"]["jitter"] == 0.1
    assert taichi["train"]["batch_size"] == 32 and taichi["train"]["lr"] == 0.002
    cfg = run_config.apply_overrides(
        run_config.load_config(TINY_CONFIG),
        ["--train.batch_size", "8", "--loss.perceptual=none", "--motion.dictionary", "false"],
    )
    assert cfg["train"]["batch_size"] == 8 and cfg["motion"]["dictionary"] is False
    assert run_config.validate(cfg).motion_dictionary is False
    with pytest.raises(liaviz.errors.UserError, match="unknown setting 'train.batchsize'"):
        run_config.apply_overrides(cfg, ["--train.batchsize", "8"])
    for bad, match in (
        (["--train.lr_decay_from", "200"], "lr_decay_from must be null or a step in"),  # = max
        (["--train.zero_init_heads", "yes please"], "zero_init_heads must be true or false"),
        (["--loss.laplacian_l1", "-1"], "laplacian_l1 must be a number >= 0"),
        (["--loss.laplacian_levels", "0"], "laplacian_levels must be an integer >= 1"),
        (["--loss.change_l1", "-0.5"], "change_l1 must be a number >= 0"),
        (["--loss.change_spread", "-1"], "change_spread must be an integer >= 0"),
    ):
        with pytest.raises(liaviz.errors.UserError, match=match):
            run_config.validate(run_config.apply_overrides(cfg, bad))
    run_config.save_config(cfg, tmp_path / "config.yaml")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == cfg
    assert run_config.load_config(tmp_path / "config.yaml") == cfg
    # the typed options hold exactly the config (what config.yaml and checkpoints get back)
    from liaviz.training import options

    typed = options.sections(cfg)
    assert typed["train"].batch_size == 8 and typed["loss"].perceptual == "none"
    assert options.to_config(typed) == cfg
    # with no file, the generator is the official LIA (the defaults are LIAConfig's own)
    assert run_config.validate(run_config.load_config(None)) == liaviz.LIAConfig()
    # a run folder of an earlier version holds a `debug` section: it still loads
    old = tmp_path / "old.yaml"
    old.write_text((tmp_path / "config.yaml").read_text() + "debug:\n  nonfinite_steps: []\n")
    assert run_config.load_config(old) == cfg
    with pytest.raises(liaviz.errors.UserError, match="unknown setting 'debug.nonfinite_steps'"):
        run_config.apply_overrides(cfg, ["--debug.nonfinite_steps", "[2]"])


@pytest.fixture(scope="module")
def trained_run(data: Path, tmp_path_factory) -> Path:
    """A 4-step run with EMA, the sparsity penalty, the Laplacian and change-weighted L1s, in
    bf16 autocast."""
    out = tmp_path_factory.mktemp("runs") / "ema"
    with single_thread():
        rc = train_in_process(
            tiny(data, out, "--max-steps", "4", "--ema.enabled", "true", "--ema.decay", "0.5",
                 "--train.mixed_precision", "bf16", "--motion.sparsity_l1", "0.1",
                 "--loss.laplacian_l1", "0.5", "--loss.change_l1", "0.5",
                 "--log.every", "1", "--log.images_every", "2")
        )  # fmt: skip
    assert rc == 0
    return out


def test_run_folder_holds_config_log_samples_and_generator(trained_run: Path) -> None:
    rows = loss_rows(trained_run)
    assert {"loss/sparsity", "loss/laplacian", "loss/change", "lr/g"} <= set(rows[4])
    assert (trained_run / "samples" / "step_00000002.png").exists()
    assert (trained_run / "config.yaml").exists()
    model = liaviz.load_model(trained_run / "generator.safetensors")
    ckpt = torch.load(trained_run / "checkpoints" / "ckpt_00000004.pt", weights_only=True)
    for k, v in model.state_dict().items():  # the EMA weights are what gets exported
        torch.testing.assert_close(v, ckpt["gen_ema"][k].float())
    assert ckpt["config"]["train"]["mixed_precision"] == "bf16"


def test_tensorboard_gets_scalars_and_images(trained_run: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    tags = set()
    for f in (trained_run / "tensorboard").glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(f)).Load():
            tags |= {v.tag for v in event.summary.value}
    assert {"loss/l1", "loss/d", "lr/g", "speed/steps_per_s"} <= tags
    assert any(t.startswith("samples/") for t in tags)


def test_liaviz_export_from_a_training_checkpoint(trained_run: Path, tmp_path: Path) -> None:
    from liaviz.cli import main

    ckpt_path = trained_run / "checkpoints" / "ckpt_00000004.pt"
    ckpt = torch.load(ckpt_path, weights_only=True)
    assert (
        main(["export", str(ckpt_path), str(tmp_path / "raw.safetensors"), "--weights", "raw"]) == 0
    )
    raw = liaviz.load_model(tmp_path / "raw.safetensors")
    for k, v in raw.state_dict().items():
        torch.testing.assert_close(v, ckpt["gen"][k].float())
    assert not torch.equal(
        ckpt["gen"]["dec.direction.weight"], ckpt["gen_ema"]["dec.direction.weight"]
    )
    # the official layout needs official widths: a one-line error for this tiny model
    assert main(["export", str(ckpt_path), str(tmp_path / "official.pt")]) == 2
    assert not (tmp_path / "official.pt").exists()
    # a training checkpoint whose bytes changed after writing is refused, not exported
    raw = bytearray(ckpt_path.read_bytes())
    at = bytes(raw).find(ckpt["gen"]["dec.direction.weight"].numpy().tobytes()[:64])
    raw[at + 8] ^= 0x40
    changed = tmp_path / "changed.pt"
    changed.write_bytes(bytes(raw))
    assert main(["export", str(changed), str(tmp_path / "changed.safetensors")]) == 2
    assert not (tmp_path / "changed.safetensors").exists()


@pytest.mark.parametrize("alias", ALIASES)
def test_export_never_writes_over_its_input(trained_run: Path, tmp_path: Path, alias, capsys):
    from liaviz.cli import main

    runs = tmp_path / "run"
    runs.mkdir()
    ckpt = runs / "ckpt_00000004.pt"
    ckpt.write_bytes((trained_run / "checkpoints" / "ckpt_00000004.pt").read_bytes())
    model = runs / "g.safetensors"
    assert main(["export", str(ckpt), str(model)]) == 0
    for source in (ckpt, model):
        before = source.read_bytes()
        out = aliases(source, tmp_path / f"other_{source.suffix[1:]}")[alias]
        capsys.readouterr()
        assert main(["export", str(source), str(out)]) == 2
        err = capsys.readouterr().err
        assert "would destroy it" in err and err.count("\n") == 1
        assert source.read_bytes() == before
        assert out.is_symlink() == (alias == "symlink")  # a link stays a link


def test_export_reads_its_input_once(trained_run: Path, tmp_path: Path, monkeypatch) -> None:
    """Training checkpoints and official .pt files can weigh hundreds of MB: read once each."""
    from liaviz.cli import main

    official = tmp_path / "official.pt"
    torch.save({"gen": liaviz.LIA(liaviz.LIAConfig(size=16)).state_dict()}, official)
    reads = []
    real_load = torch.load

    def counting_load(f, *args, **kwargs):
        reads.append(getattr(f, "name", f))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    training = trained_run / "checkpoints" / "ckpt_00000004.pt"
    for source in (training, official):
        reads.clear()
        assert main(["export", str(source), str(tmp_path / f"{source.stem}.safetensors")]) == 0
        assert [str(r) for r in reads] == [str(source)]


def test_official_layout_export_round_trips(tmp_path: Path) -> None:
    from liaviz.cli import main

    torch.manual_seed(0)
    model = liaviz.LIA(liaviz.LIAConfig(size=16))  # official widths, the smallest size
    liaviz.save_model(model, tmp_path / "m.safetensors")
    assert main(["export", str(tmp_path / "m.safetensors"), str(tmp_path / "m.pt")]) == 0
    data = torch.load(tmp_path / "m.pt", weights_only=True)
    assert list(data) == ["gen"] and list(data["gen"]) == list(model.state_dict())
    back = liaviz.load_model(tmp_path / "m.pt")
    assert liaviz.load_checkpoint(tmp_path / "m.pt").format == "official"
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict()[k], v)
