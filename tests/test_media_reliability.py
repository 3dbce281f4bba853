"""Odd media and faults around `liaviz animate`: rotation tags, audio, variable frame rates,
truncated files, text files, 16-bit PNGs, outputs that are inputs, SIGTERM, file modes."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest
from imageio_ffmpeg import get_ffmpeg_exe
from PIL import Image

from liaviz import io
from liaviz.io.atomic import write_bytes

from ._animate_files import animate_cli, animate_files
from ._media import moving_frames, write_mp4, write_png_folder

# one thread per test: tiny models on 2 threads spin-wait on each other on a busy 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def files(tmp_path, tiny_model):
    return animate_files(tmp_path, tiny_model, 8, 8)


def ffmpeg(*args: str) -> None:
    subprocess.run([get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True)


def streams(path) -> dict[str, float]:
    """stream type -> duration in seconds."""
    with av.open(str(path)) as c:
        return {s.type: float(s.duration * s.time_base) for s in c.streams}


def video_pts(path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


# ---- reading ------------------------------------------------------------------------------------


def test_rotation_tag_turns_frames_upright(tmp_path):
    frames = moving_frames(4, 32, 64)  # stored landscape, 64 wide
    plain = write_mp4(tmp_path / "plain.mp4", frames)
    phone = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(phone))
    # ffmpeg's own decoder, which applies the display matrix, is the reference
    raw = subprocess.run(
        [get_ffmpeg_exe(), "-v", "error", "-i", str(phone), "-f", "rawvideo", "-pix_fmt",
         "rgb24", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    upright = np.frombuffer(raw, np.uint8).reshape(4, 64, 32, 3)
    got = io.read_video(phone)
    assert got.shape == (4, 64, 32, 3)
    assert np.abs(got.astype(int) - upright).mean() < 1.0
    assert io.read_video(plain).shape == (4, 32, 64, 3)  # untagged: as stored
    info = io.video_info(phone)
    assert (info.width, info.height) == (32, 64)


def test_truncated_video_with_its_index_in_front_is_an_error(files, capsys):
    d = files["dir"]
    noisy = np.random.default_rng(0).integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)
    whole = write_mp4(d / "whole.mp4", noisy)
    front = d / "front.mp4"
    ffmpeg("-i", str(whole), "-c", "copy", "-movflags", "+faststart", str(front))
    data = front.read_bytes()
    front.write_bytes(data[: len(data) // 4])
    with pytest.raises(io.MediaError, match="only [0-9]+ of the 40 frames"):
        io.read_video(front)
    out = d / "out.mp4"
    assert animate_cli(files, out, driving=front) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "truncated" in err and not out.exists()
    assert not [p for p in d.iterdir() if p.name.startswith(".")]


def test_text_file_as_driving_video(files, capsys):
    notes = files["dir"] / "notes.txt"
    notes.write_text("Meeting notes: animate the portrait with the talk video.\n" * 40)
    assert animate_cli(files, files["dir"] / "out.mp4", driving=notes) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "text file" in err and "one frame" not in err


def test_16_bit_png_is_scaled_by_its_bit_depth(tmp_path):
    dark = np.full((8, 8), 200, np.uint16)  # every value <= 255, but out of 65535
    Image.fromarray(dark).save(tmp_path / "dark.png")
    bright = np.full((8, 8), 60000, np.uint16)
    Image.fromarray(bright).save(tmp_path / "bright.png")
    assert io.read_image(tmp_path / "dark.png").max() == round(200 / 65535 * 255)
    assert io.read_image(tmp_path / "bright.png").min() == round(60000 / 65535 * 255)


# ---- writing ------------------------------------------------------------------------------------


def test_output_that_is_an_input_is_refused(files, capsys):
    before = open(files["driving"], "rb").read()
    assert animate_cli(files, files["driving"]) == 2
    assert "would destroy it" in capsys.readouterr().err
    assert open(files["driving"], "rb").read() == before
    folder = write_png_folder(files["dir"] / "clip", moving_frames(3, 64))
    assert animate_cli(files, folder, "--mode", "absolute", driving=folder) == 2
    assert "would destroy it" in capsys.readouterr().err
    assert len(list(folder.iterdir())) == 3


def test_driving_audio_is_kept_cut_or_dropped(files, capsys):
    d = files["dir"]
    talk = d / "talk.mp4"  # 8 frames at 8 fps (1 s) with 3 s of sound
    ffmpeg("-i", files["driving"], "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
           "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", str(talk))  # fmt: skip
    assert streams(talk)["audio"] > 2.5
    out = d / "out.mp4"
    assert animate_cli(files, out, driving=talk) == 0
    got = streams(out)
    assert set(got) == {"video", "audio"} and abs(got["audio"] - 1.0) < 0.1, got
    assert "audio copied" in capsys.readouterr().err
    assert io.video_info(out).n_frames == 8
    assert animate_cli(files, d / "mute.mp4", "--no-audio", driving=talk) == 0
    assert set(streams(d / "mute.mp4")) == {"video"}
    assert "--no-audio" in capsys.readouterr().err
    assert animate_cli(files, d / "out.gif", driving=talk) == 0
    assert "audio is not kept" in capsys.readouterr().err


def test_variable_frame_rate_keeps_the_frame_times(files, capsys):
    d = files["dir"]
    vfr = d / "vfr.mp4"  # 6 frames 0.1 s apart, then 6 frames 0.5 s apart
    times = [Fraction(k, 10) for k in range(6)] + [
        Fraction(1, 2) + Fraction(k, 2) for k in range(1, 7)
    ]
    with av.open(str(vfr), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for t, frame in zip(times, moving_frames(len(times), 64), strict=True):
            f = av.VideoFrame.from_ndarray(frame, format="rgb24")
            f.pts, f.time_base = int(t * 1000), Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    assert io.is_variable_rate(io.frame_times(vfr))
    out = d / "out.mp4"
    assert animate_cli(files, out, driving=vfr) == 0
    assert "frame times are kept" in capsys.readouterr().err
    np.testing.assert_allclose(video_pts(out), [float(t) for t in times], atol=1e-3)
    gif = d / "out.gif"
    assert animate_cli(files, gif, driving=vfr) == 0
    with Image.open(gif) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    assert durations[:5] == [100] * 5 and durations[6:11] == [500] * 5
    # a constant rate stays a constant rate
    assert not io.is_variable_rate(io.frame_times(files["driving"]))


@pytest.mark.parametrize("name", ["o.mp4", "frames"])
def test_sigterm_leaves_nothing_behind(files, name, monkeypatch, capsys):
    out = files["dir"] / name
    if name.endswith(".mp4"):
        out.write_bytes(b"previous result")
    real = io.VideoWriter.write

    def write_then_terminate(self, frame):
        if self.frames_written == 3:  # what timeout, schedulers and docker stop send
            os.kill(os.getpid(), signal.SIGTERM)
        real(self, frame)

    monkeypatch.setattr(io.VideoWriter, "write", write_then_terminate)
    assert animate_cli(files, out) == 128 + signal.SIGTERM
    assert capsys.readouterr().err.strip().splitlines() == ["liaviz animate: terminated (SIGTERM)"]
    kept = ["tiny.safetensors", "source.png", "driving.mp4"]
    if name.endswith(".mp4"):
        assert out.read_bytes() == b"previous result"
        kept.append(name)
    assert sorted(p.name for p in files["dir"].iterdir()) == sorted(kept)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler was restored


def test_replacing_a_private_file_keeps_it_private(files):
    d = files["dir"]
    image = moving_frames(1, 64)[0]
    targets = {
        "image": (d / "a.png", lambda p: io.write_image(p, image)),
        "bytes": (d / "b.txt", lambda p: write_bytes(p, b"new")),
        "video": (d / "c.mp4", lambda p: animate_cli(files, p)),
    }
    for what, (path, write) in targets.items():
        path.write_bytes(b"old")
        os.chmod(path, 0o600)
        write(path)
        assert path.read_bytes() != b"old", what
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, what


def test_full_disk_in_an_atomic_write_is_the_callers_one_line_error(tmp_path, monkeypatch):
    target = tmp_path / "a.png"
    target.write_bytes(b"old")

    def full_disk(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(io.MediaError, match="a.png: no space left on the device") as e:
        io.write_image(target, moving_frames(1, 16)[0])
    assert "\n" not in str(e.value) and "cannot write image" not in str(e.value)  # said once
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.png"]
