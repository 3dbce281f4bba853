"""`liaviz prepare` as a tool: resume, refusals, bad input, a full disk, shards and merge, and the
README's "Train on your own videos" commands run as written (prepare, a tiny training run,
export, evaluate; the SLURM array and the merge)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from liaviz.cli import main

from ._face_videos import drifting, known_paths
from ._media import write_empty_mp4, write_mp4
from ._train_helpers import TINY_CONFIG, train_in_process
from .conftest import REPO
from .test_prepare import manifest

SMALL = ["--size", "32", "--min-side", "32", "--min-frames", "3", "--quiet"]
README = (REPO / "README.md").read_text()


def readme_lines(prefix: str) -> list[str]:
    """The README's bash lines starting with ``prefix`` (continuations joined, comments cut)."""
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    lines = [
        ln.split("  #")[0].strip() for b in blocks for ln in b.replace("\\\n", " ").splitlines()
    ]
    return [ln for ln in lines if ln.startswith(prefix)]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """Two videos with faces, in a folder as RAW."""
    folder = tmp_path_factory.mktemp("raw") / "raw"
    (folder / "sub").mkdir(parents=True)
    known_paths().write(folder / "paths.mp4")
    drifting().write(folder / "sub" / "drift.mp4")
    return folder


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "liaviz.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        timeout=300,
    )


def snapshot(root: Path) -> dict[str, int]:
    """The clips and records under ``root`` and their inodes (a rewritten file gets a new one;
    ``manifest.csv`` and ``prepare.json`` are rewritten by every run)."""
    return {
        p.relative_to(root).as_posix(): p.stat().st_ino
        for p in root.rglob("*")
        if p.is_file() and p.name not in ("manifest.csv", "prepare.json")
    }


def test_resume_skips_finished_videos_and_cleans_a_killed_run(raw, tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["prepare", str(raw), "--out", str(out), *SMALL]) == 0
    before = snapshot(out)
    assert main(["prepare", str(raw), "--out", str(out), *SMALL]) == 2  # needs --resume
    assert "--resume" in capsys.readouterr().err.strip().splitlines()[-1]
    assert main(["prepare", str(raw), "--out", str(out), "--resume", *SMALL]) == 0
    assert "0 videos done now, 2 already done" in capsys.readouterr().out
    assert snapshot(out) == before  # nothing rewritten
    # a run killed while cutting paths.mp4: its record missing, a temporary left behind
    (record,) = (out / "sources").glob("paths-*.json")
    record.unlink()
    clip = next(p for p in out.glob("t*/paths-*.mp4"))
    stale = clip.parent / f".{clip.name}.abc123.partial.mp4"
    stale.write_bytes(b"half a clip")
    assert main(["prepare", str(raw), "--out", str(out), "--resume", *SMALL]) == 0
    assert "1 videos done now, 1 already done" in capsys.readouterr().out
    assert not stale.exists() and record.exists()
    after = snapshot(out)
    assert after.keys() == before.keys()
    rewritten = {k for k in after if after[k] != before[k]}
    assert rewritten <= {k for k in after if "paths-" in k}
    assert any(k.endswith(".mp4") for k in rewritten)  # paths.mp4 was cut again
    # other options cannot resume it
    assert main(["prepare", str(raw), "--out", str(out), "--resume", *SMALL, "--size", "48"]) == 2
    assert "other options" in capsys.readouterr().err


def test_an_output_folder_holding_something_else_is_refused(raw, tmp_path, capsys):
    out = tmp_path / "synth"
    assert (
        main(
            [
                "synth",
                "--out",
                str(out),
                "--videos",
                "2",
                "--frames",
                "2",
                "--size",
                "16",
                "--quiet",
            ]
        )
        == 0
    )
    before = snapshot(out)
    for extra in ([], ["--resume"]):
        assert main(["prepare", str(raw), "--out", str(out), *SMALL, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "holds other files" in err[0]
    assert snapshot(out) == before


def test_bad_videos_get_one_line_each_and_the_good_ones_their_clips(raw, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    os.link(raw / "paths.mp4", mixed / "good.mp4")
    (mixed / "empty.mp4").write_bytes(b"")
    (mixed / "text.mov").write_text("not a video\n" * 50)
    write_empty_mp4(mixed / "noframes.mp4")
    faceless = known_paths().frames[24:36]  # the shot without a face
    write_mp4(mixed / "faceless.mp4", np.stack(faceless))
    out = tmp_path / "out"
    r = run_cli("prepare", str(mixed), "--out", str(out), *SMALL)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    for name in ("empty.mp4", "text.mov", "noframes.mp4"):
        assert len([ln for ln in lines if name in ln]) == 1, r.stderr
    assert "3 video(s) could not be read" in lines[-1] and len(lines) == 4
    assert "videos without a face: 1" in r.stdout
    rows = manifest(out)
    assert rows and {row["source"] for row in rows} == {"good.mp4"}
    # only a faceless video: one line, exit 2
    r = run_cli("prepare", str(mixed / "faceless.mp4"), "--out", str(tmp_path / "none"), *SMALL)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no clip came out" in r.stderr


_DISK_FULL = textwrap.dedent(
    """
    import resource, signal, sys
    from liaviz.cli import main
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))
    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_full_disk_is_one_line_and_keeps_what_was_written(raw, tmp_path):
    out = tmp_path / "data"
    assert main(["prepare", str(raw), "--out", str(out), *SMALL]) == 0
    (record,) = (out / "sources").glob("paths-*.json")
    record.unlink()  # paths.mp4 is to be redone: its clips are rewritten, on a full disk
    before = {k: (out / k).read_bytes() for k in snapshot(out)}
    argv = ["prepare", str(raw), "--out", str(out), "--resume", *SMALL]
    r = subprocess.run(
        [sys.executable, "-c", _DISK_FULL, *argv], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no space left" in lines[0], r.stderr
    assert {k: (out / k).read_bytes() for k in snapshot(out)} == before


def test_readme_from_raw_videos_to_a_trained_and_evaluated_model(raw, tmp_path, one_thread):
    """The README's section, line by line: prepare (with small-set options added), the training
    line on the tiny config for 4 steps, export, evaluate; then the SLURM array as two shard
    jobs and the merge, which gives the same clips as the single run."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "raw").symlink_to(raw, target_is_directory=True)
    # seed 1 puts one video in each split (the split is a hash of the path: fixed)
    small = [
        "--size",
        "32",
        "--min-side",
        "32",
        "--min-frames",
        "3",
        "--test-share",
        "0.5",
        "--seed",
        "1",
    ]
    (prepare_line,) = [ln for ln in readme_lines("liaviz prepare raw/") if "--shard" not in ln]
    r = run_cli(*shlex.split(prepare_line)[1:], *small, cwd=work)
    assert r.returncode == 0, r.stderr
    data = work / "data" / "mine"
    rows = manifest(data)
    assert {row["split"] for row in rows} == {"train", "test"}  # both splits hold clips
    # accelerate launch ... train/train.py ARGS: the same ARGS, on the tiny config, 4 steps
    lines = readme_lines("accelerate launch -q train/train.py --config train/configs/vox256")
    (train_line,) = [ln for ln in lines if "data/mine" in ln]
    args = shlex.split(train_line.split("train/train.py", 1)[1])
    args[args.index("--config") + 1] = str(TINY_CONFIG)
    del args[args.index("--loss.vgg_weights") : args.index("--loss.vgg_weights") + 2]
    args = [str(work / a) if a.startswith(("data/", "runs/")) else a for a in args]
    assert train_in_process([*args, "--max-steps", "4"]) == 0
    (export_line,) = readme_lines("liaviz export runs/mine")
    export = shlex.split(export_line)[1:]
    export[1] = export[1].replace("ckpt_00010000", "ckpt_00000004")
    assert run_cli(*export, cwd=work).returncode == 0
    (evaluate_line,) = readme_lines("liaviz evaluate --checkpoint mine")
    r = run_cli(*shlex.split(evaluate_line)[1:], "--batch-size", "2", cwd=work)
    assert r.returncode == 0, r.stderr
    assert f"{sum(row['split'] == 'test' for row in rows)} clips" in r.stdout
    # the SLURM array, as two jobs, then the merge: the same clips, rows and split
    (array_line,) = readme_lines("liaviz prepare raw/ --out data/shards")
    cli = f"{sys.executable} -m liaviz.cli "
    for task in ("0", "1"):
        env = {
            "SLURM_ARRAY_TASK_ID": task,
            "SLURM_ARRAY_TASK_COUNT": "2",
            "SLURM_CPUS_PER_TASK": "1",
        }
        command = f"{array_line} {' '.join(small)}"
        r = subprocess.run(
            ["bash", "-c", command.replace("liaviz ", cli, 1)],
            cwd=work, capture_output=True, text=True, env={**os.environ, **env}, timeout=300,
        )  # fmt: skip
        assert r.returncode in (0, 2), r.stderr  # a shard may hold no clip
    (merge_line,) = readme_lines("liaviz prepare --merge")
    command = merge_line.replace("data/mine", "data/merged").replace("liaviz ", cli, 1)
    r = subprocess.run(["bash", "-c", command], cwd=work, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert manifest(work / "data" / "merged") == rows
    assert sorted(p.name for p in (work / "data" / "merged").glob("t*/*.mp4")) == sorted(
        Path(row["clip"]).name for row in rows
    )
