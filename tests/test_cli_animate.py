"""`liaviz animate` end to end on a tiny model, and every bad input the issue names."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
import torch

from liaviz import io, load_model
from liaviz.cli import main
from liaviz.errors import UserError
from liaviz.pipelines.animate import animate

from ._animate_files import animate_cli, animate_files
from ._media import moving_frames, write_empty_mp4, write_mp4

# one thread per test: tiny models on 2 threads spin-wait on each other on a busy 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def files(tmp_path, tiny_model):
    return animate_files(tmp_path, tiny_model, 10, Fraction(25, 2), source_width=80)


def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_mp4_has_the_driving_frame_count_and_rate(files, capsys):
    out = files["dir"] / "out.mp4"
    assert animate_cli(files, out) == 0
    info = io.video_info(out)
    assert (info.n_frames, info.rate, info.width, info.height) == (10, Fraction(25, 2), 64, 64)
    assert "wrote" in capsys.readouterr().err
    assert _leftovers(files["dir"], {"tiny.safetensors", "source.png", "driving.mp4"}) == [
        "out.mp4"
    ]


def test_side_by_side_gif_from_the_best_start(files):
    out = files["dir"] / "out.gif"
    assert animate_cli(files, out, "--side-by-side", "--start", "best", "--crop", "pad") == 0
    frames = np.stack(list(io.iter_video(out)))
    assert frames.shape == (10, 64, 192, 3)
    # the middle panel is the driving video as the model saw it
    driving = np.stack(list(io.iter_video(files["driving"])))
    assert np.abs(frames[:, :, 64:128].astype(int) - driving).mean() < 10


def test_png_folder_absolute_with_edit(files):
    out = files["dir"] / "frames"
    argv = ["--mode", "absolute", "--edit", "1=2", "--edit", "6=-1", "--batch-size", "3"]
    assert animate_cli(files, out, *argv) == 0
    assert sorted(p.name for p in out.iterdir())[:2] == ["000000.png", "000001.png"]
    assert len(list(out.iterdir())) == 10
    # --edit is 1-based: d1 and d6 are the first and last of the tiny model's 6 offsets
    edit = torch.tensor([2.0, 0.0, 0.0, 0.0, 0.0, -1.0])
    model = load_model(files["ckpt"])
    want = animate(
        model, files["source"], files["driving"], "absolute", batch_size=3, edit=edit, crop="center"
    )
    got = [io.read_image(p) for p in sorted(out.iterdir())]
    np.testing.assert_array_equal(np.stack(got), np.stack(list(want)))


def _bad_case(files, case):
    d = files["dir"]
    if case == "corrupt image":
        (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
        return {"source": str(d / "bad.png")}, [], "bad.png"
    if case == "corrupt video":
        (d / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(500))
        return {"driving": str(d / "bad.mp4")}, [], "bad.mp4"
    if case == "zero-frame video":
        return {"driving": str(write_empty_mp4(d / "empty.mp4"))}, [], "no frames"
    if case == "one-frame video, relative":
        one = write_mp4(d / "one.mp4", moving_frames(1, 64))
        return {"driving": str(one)}, [], "only one frame"
    if case == "checkpoint of another size":
        return {}, ["--size", "128"], "size-64"
    if case == "missing output folder":
        return {"out": d / "nowhere" / "out.mp4"}, [], "does not exist"
    if case == "bad edit":
        return {}, ["--edit", "3:1"], "DIRECTION=VALUE"
    if case == "edit direction out of range":
        return {}, ["--edit", "99=1"], "direction 99"
    if case == "edit direction 0":
        return {}, ["--edit", "0=1"], "directions count from 1"
    if case == "edit overflowing float32":
        return {}, ["--edit", "3=1e39"], "float32"
    if case == "meta device":
        return {}, ["--device", "meta"], "meta device holds no data"
    if case == "start in absolute mode":
        return {}, ["--mode", "absolute", "--start", "best"], "relative mode only"
    if case == "start beyond the video":
        return {}, ["--start", "50"], "outside"
    if case == "negative start":
        return {}, ["--start", "-3"], "outside"
    raise AssertionError(case)


BAD = [
    "corrupt image",
    "corrupt video",
    "zero-frame video",
    "one-frame video, relative",
    "checkpoint of another size",
    "missing output folder",
    "bad edit",
    "edit direction out of range",
    "edit direction 0",
    "edit overflowing float32",
    "meta device",
    "start in absolute mode",
    "start beyond the video",
    "negative start",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(files, capsys, case):
    paths, extra, expected = _bad_case(files, case)
    out = paths.pop("out", files["dir"] / "out.mp4")
    before = set(os.listdir(files["dir"]))
    rc = animate_cli(files, out, *extra, **paths)
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("liaviz animate: error: "), err
    assert expected in lines[0]
    assert "Traceback" not in err
    assert set(os.listdir(files["dir"])) == before  # no output, no temporary


def test_debug_shows_the_traceback(files, capsys):
    argv = ["--debug", "animate", "--checkpoint", files["ckpt"], "--source", "missing.png"]
    argv += ["--driving", files["driving"], "--out", str(files["dir"] / "o.mp4")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "missing.png: no such file" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device(files, capsys):
    assert animate_cli(files, files["dir"] / "o.mp4", "--device", "cuda") == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_usage_errors_exit_2(files, capsys):
    assert animate_cli(files, files["dir"] / "o.mp4", "--start", "middle") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "first', 'best' or a frame index" in err[0]


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--motion-scale", "1e39"),  # finite as a Python float, inf as the model's float32
        ("--motion-scale", "-3.5e38"),
        ("--motion-scale", "nan"),
        ("--batch-size", "100000000000000000000"),
        ("--batch-size", "0"),
        ("--batch-size", "2.5"),
        ("--threads", "100000"),  # was a segmentation fault
        ("--threads", "0"),
        ("--size", "0"),  # said "a size-64 model, but size=64 was asked for"
        ("--face", "0"),
        ("--crop-scale", "nan"),
    ],
)
def test_numeric_flags_out_of_range_exit_2(files, capsys, flag, value):
    before = set(os.listdir(files["dir"]))
    # flag=value: argparse would take "-3.5e38" alone for an option (its own error, usage above)
    assert animate_cli(files, files["dir"] / "o.mp4", f"{flag}={value}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"argument {flag}" in err[0]  # one line, no usage above
    assert set(os.listdir(files["dir"])) == before


def test_numbers_overflowing_float32_are_refused_by_the_api(tiny_model):
    source, frames = moving_frames(1, 64)[0], moving_frames(2, 64)
    for kwargs in ({"motion_scale": 1e39}, {"edit": {3: 1e39}}, {"edit": "3=-1e39"},
                   {"batch_size": 10**20}):  # fmt: skip
        with pytest.raises(UserError, match="float32|batch size"):
            list(animate(tiny_model, source, frames, **kwargs))


def test_interrupted_run_keeps_the_previous_output(files, monkeypatch, capsys):
    out = files["dir"] / "out.mp4"
    out.write_bytes(b"previous result")
    real_write = io.VideoWriter.write

    def write_then_interrupt(self, frame):
        if self.frames_written == 3:
            raise KeyboardInterrupt
        real_write(self, frame)

    monkeypatch.setattr(io.VideoWriter, "write", write_then_interrupt)
    assert animate_cli(files, out) == 130
    assert out.read_bytes() == b"previous result"
    assert _leftovers(files["dir"], {"tiny.safetensors", "source.png", "driving.mp4"}) == [
        "out.mp4"
    ]


_DISK_FULL = textwrap.dedent(
    """
    import resource, signal, sys
    from liaviz.cli import main
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))
    sys.exit(main(sys.argv[1:]))
    """
)


def test_disk_full_during_writing(files):
    """A full disk, simulated by a file size limit in a child process: one line, exit 2, the
    previous output untouched and no temporary left behind."""
    out = files["dir"] / "out.mp4"
    out.write_bytes(b"previous result")
    argv = ["animate", "--checkpoint", files["ckpt"], "--source", files["source"]]
    argv += ["--driving", files["driving"], "--out", str(out), "--no-progress", "--side-by-side"]
    argv += ["--crop", "center"]  # the random source holds no face
    r = subprocess.run(
        [sys.executable, "-c", _DISK_FULL, *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no space left" in lines[0], r.stderr
    assert out.read_bytes() == b"previous result"
    assert _leftovers(files["dir"], {"tiny.safetensors", "source.png", "driving.mp4"}) == [
        "out.mp4"
    ]


def test_stdout_closed_after_the_file_is_written(files):
    """`liaviz animate ... >&-` (stdout closed): the file is written and the run ends cleanly
    (it was an AttributeError and exit 1). (info's closed and full stdout: test_checkpoint.)"""
    out = files["dir"] / "out.mp4"
    argv = ["animate", "--checkpoint", files["ckpt"], "--source", files["source"], "--driving"]
    argv += [files["driving"], "--out", out, "--crop", "center", "--no-progress"]
    line = f"{sys.executable} -m liaviz.cli {' '.join(str(a) for a in argv)} >&-"
    r = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert io.video_info(out).n_frames == 10
