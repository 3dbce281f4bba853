"""Media in and out: image modes, video streams, preparation, tensor mapping, atomic writers."""

from __future__ import annotations

import io as _io
import os
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image

from liaviz import io
from liaviz.errors import UserError

from ._media import (
    moving_frames,
    write_empty_mp4,
    write_gif,
    write_mp4,
    write_png,
    write_png_folder,
)

# ---- images -------------------------------------------------------------------------------------


def test_rgb_png_round_trips_exactly(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    out = io.read_image(write_png(tmp_path / "a.png", img))
    assert out.dtype == np.uint8 and out.shape == (17, 23, 3)
    np.testing.assert_array_equal(out, img)


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (200, 10, 50)
    rgba[0, :, 3] = 0  # transparent row -> white
    rgba[1, :, 3] = 255  # opaque row -> the colour
    rgba[1, 2, 3] = 128  # half -> halfway to white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = io.read_image(tmp_path / "a.png").astype(int)
    assert (out[0] == 255).all()
    assert out[1, 0].tolist() == [200, 10, 50]
    assert np.abs(out[1, 2] - np.array([227, 133, 153])).max() <= 1


def test_gray_palette_and_transparent_palette(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    out = io.read_image(tmp_path / "g.png")
    assert out.shape == (3, 4, 3) and (out == gray[..., None]).all()

    pal = Image.new("P", (2, 1))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / "p.png")
    assert io.read_image(tmp_path / "p.png").tolist() == [[[255, 0, 0], [0, 0, 255]]]
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pt.png", transparency=0)
    assert io.read_image(tmp_path / "pt.png").tolist() == [[[255, 255, 255], [0, 0, 255]]]


def test_16_bit_gray_is_reduced_to_8_bits(tmp_path):
    values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "a.png")  # a 16-bit PNG
    with Image.open(tmp_path / "a.png") as im:
        assert im.mode.startswith("I")
    assert io.read_image(tmp_path / "a.png")[0, :, 0].tolist() == [0, 100, 255]


def test_exif_orientation_is_applied(tmp_path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :10] = 255  # white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(img).save(tmp_path / "a.jpg", exif=exif, quality=95)
    out = io.read_image(tmp_path / "a.jpg")
    assert out.shape == (40, 20, 3)  # portrait once displayed
    assert out[:10].mean() > 200 and out[-10:].mean() < 50  # the band is now on top


def test_cmyk_jpeg_is_converted(tmp_path):
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    out = io.read_image(tmp_path / "c.jpg")
    assert out.shape == (4, 4, 3) and out[..., 0].mean() > 200 and out[..., 1].mean() < 60


@pytest.mark.parametrize("content", [b"", b"not an image at all", "truncated"])
def test_unreadable_image_raises_media_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.png"
    if content == "truncated":
        buf = _io.BytesIO()
        Image.fromarray(moving_frames(1)[0]).save(buf, "PNG")
        content = buf.getvalue()[:200]
    path.write_bytes(content)
    with pytest.raises(io.MediaError, match="bad.png") as err:
        io.read_image(path)
    assert isinstance(err.value, UserError) and "\n" not in str(err.value)


def test_missing_image_and_folder(tmp_path):
    with pytest.raises(io.MediaError, match="no such file"):
        io.read_image(tmp_path / "nope.png")
    with pytest.raises(io.MediaError, match="folder"):
        io.read_image(tmp_path)


# ---- videos -------------------------------------------------------------------------------------


def test_mp4_info_and_stream_are_exact(tmp_path):
    frames = moving_frames(7, 32, 48)
    path = write_mp4(tmp_path / "v.mp4", frames, Fraction(30000, 1001))
    info = io.video_info(path)
    assert (info.n_frames, info.width, info.height) == (7, 48, 32)
    assert info.rate == Fraction(30000, 1001) and info.fps == pytest.approx(29.97, abs=1e-3)
    got = list(io.iter_video(path))
    assert len(got) == 7 and all(f.dtype == np.uint8 and f.shape == (32, 48, 3) for f in got)
    assert np.abs(np.stack(got).astype(int) - frames).mean() < 4  # lossy but the same pictures
    assert io.read_video(path, max_frames=3).shape == (3, 32, 48, 3)


def test_gif_and_frame_folder_read_as_videos(tmp_path):
    frames = moving_frames(5, 16, 24)
    gif = write_gif(tmp_path / "v.gif", frames, fps=20)
    info = io.video_info(gif)
    assert (info.n_frames, info.width, info.height, info.fps) == (5, 24, 16, 20.0)
    got = np.stack(list(io.iter_video(gif)))
    assert got.shape == (5, 16, 24, 3) and np.abs(got.astype(int) - frames).mean() < 8

    folder = write_png_folder(tmp_path / "clip", frames[::-1])
    (folder / "notes.txt").write_text("ignored")
    assert io.video_info(folder).n_frames == 5
    np.testing.assert_array_equal(np.stack(list(io.iter_video(folder))), frames[::-1])


@pytest.mark.parametrize(
    "names",
    [
        ["1.png", "2.png", "10.png", "11.png", "100.png"],
        ["frame_9.png", "frame_10.png", "frame_99.png", "frame_100.png"],
        ["0001.png", "0002.png", "0010.png"],
        ["a2b1.png", "a2b10.png", "a10b1.png"],
    ],
)
def test_frame_folders_play_in_natural_order(tmp_path, names):
    frames = moving_frames(len(names), 16)
    folder = tmp_path / "clip"
    folder.mkdir()
    for name, frame in zip(reversed(names), frames[::-1], strict=True):  # written out of order
        Image.fromarray(frame).save(folder / name)
    assert [p.name for p in io.frame_files(folder)] == names
    np.testing.assert_array_equal(io.read_video(folder), frames)


def test_video_is_streamed_lazily(tmp_path):
    path = write_mp4(tmp_path / "v.mp4", moving_frames(30, 32))
    it = io.iter_video(path)
    first = next(it)
    assert first.shape == (32, 32, 3)  # one frame out without decoding the rest into a list
    it.close()


@pytest.mark.parametrize("kind", ["garbage", "empty_file", "zero_frames", "empty_folder"])
def test_bad_videos_raise_media_error(tmp_path, kind):
    if kind == "garbage":
        path = tmp_path / "v.mp4"
        path.write_bytes(b"\x00\x01garbage" * 50)
    elif kind == "empty_file":
        path = tmp_path / "v.mp4"
        path.write_bytes(b"")
    elif kind == "zero_frames":
        path = write_empty_mp4(tmp_path / "v.mp4")
    else:
        path = tmp_path / "frames"
        path.mkdir()
    for call in (io.video_info, lambda p: list(io.iter_video(p))):
        with pytest.raises(io.MediaError, match=path.name) as err:
            call(path)
        assert "\n" not in str(err.value)
    if kind in ("zero_frames", "empty_folder"):
        with pytest.raises(io.MediaError, match="no frames"):
            io.video_info(path)


def test_truncated_mp4_is_a_media_error(tmp_path):
    path = write_mp4(tmp_path / "v.mp4", moving_frames(10, 32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # libx264 mp4 keeps its index at the end
    with pytest.raises(io.MediaError, match="v.mp4"):
        list(io.iter_video(path))


# ---- preparation and tensors --------------------------------------------------------------------


def test_prepare_center_pad_none():
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 20:60] = 200  # the centre square
    center = io.prepare(img, 20, "center")
    assert center.shape == (20, 20, 3) and (center == 200).all()
    pad = io.prepare(img, 20, "pad")
    assert pad.shape == (20, 20, 3)
    assert (pad[:4] == 255).all() and (pad[-4:] == 255).all()  # white bands above and below
    assert pad[10, 0].tolist() == [0, 0, 0] and pad[10, 10].tolist() == [200, 200, 200]
    none = io.prepare(img, 20, "none")
    assert none[:, :4].max() == 0 and (none[:, 6:14] == 200).all()  # stretched, nothing cut
    with pytest.raises(ValueError, match="crop"):
        io.prepare(img, 20, "zoom")


def test_prepare_is_pillow_bilinear_and_identity_at_size():
    img = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert io.prepare(img, 64) is not None and (io.prepare(img, 64) == img).all()
    expected = np.asarray(Image.fromarray(img).resize((24, 24), Image.BILINEAR))
    np.testing.assert_array_equal(io.prepare(img, 24), expected)


def test_tensor_mapping_round_trips_every_level():
    levels = np.arange(256, dtype=np.uint8)
    img = np.stack([levels, levels[::-1], levels], axis=-1).reshape(16, 16, 3)
    t = io.to_tensor(img)
    assert t.shape == (1, 3, 16, 16) and t.dtype == torch.float32
    assert t.min() == -1.0 and t.max() == 1.0
    assert torch.allclose(t[0, 0, 0, 1], torch.tensor((1 / 255 - 0.5) * 2))
    np.testing.assert_array_equal(io.to_uint8(t)[0], img)
    np.testing.assert_array_equal(io.to_uint8(t[0]), img)
    batch = io.to_tensor(np.stack([img, img]))
    assert batch.shape == (2, 3, 16, 16)


def test_to_uint8_clamps_per_frame():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 5.0]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    assert io.to_uint8(x)[0, 0, :, 0].tolist() == [0, 0, 128, 255, 255]


# ---- writing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "frames"])
def test_writer_round_trip(tmp_path, name):
    frames = moving_frames(6, 32, 48)
    target = tmp_path / name
    with io.VideoWriter(target, fps=Fraction(25, 2)) as w:
        for f in frames:
            w.write(f)
    info = io.video_info(target)
    assert info.n_frames == 6 and (info.width, info.height) == (48, 32)
    if name != "frames":
        assert info.fps == 12.5
    got = np.stack(list(io.iter_video(target)))
    assert np.abs(got.astype(int) - frames).mean() < 6
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left behind
    assert oct(target.stat().st_mode & 0o077) != "0o0"  # usual permissions, not mkstemp's 0600


def test_gif_is_streamed_at_about_one_byte_per_pixel(tmp_path):
    """Each GIF frame goes to the file as it is written (nothing piles up in memory until
    close), at about 1 byte per pixel; a still frame is still a frame, and a still backdrop
    is kept exactly as first drawn."""
    frames = moving_frames(40, 64)
    frames[:, :16] = frames[0, :16]  # a still band at the top
    frames[20] = frames[19]  # one repeated frame
    target = tmp_path / "o.gif"
    on_disk = []
    with io.VideoWriter(target, fps=25) as w:
        for f in frames:
            w.write(f)
            on_disk.append(sum(p.stat().st_size for p in tmp_path.iterdir()))
    assert on_disk[-1] > 20 * 64 * 64 // 2  # written as it came, not at close
    assert target.stat().st_size / len(frames) < 64 * 64 + 1024  # palette + headers
    got = np.stack(list(io.iter_video(target)))
    assert got.shape == frames.shape  # the repeated frame is not merged away
    assert np.abs(got.astype(int) - frames).mean() < 3
    np.testing.assert_array_equal(got[:, :16], np.repeat(got[:1, :16], len(frames), axis=0))


@pytest.mark.parametrize("fps", [30, Fraction(30000, 1001), 7])
def test_gif_delays_do_not_drift(tmp_path, fps):
    """GIF delays are whole 10 ms steps; each frame's is rounded from its own end time, so
    after 90 frames the clip is as long as asked (within 5 ms), not 10% short at 30 fps."""
    target = tmp_path / "o.gif"
    with io.VideoWriter(target, fps=fps) as w:
        w.write_many(moving_frames(90, 16))
    with Image.open(target) as im:
        ms = []
        for i in range(im.n_frames):
            im.seek(i)
            ms.append(im.info["duration"])
    assert len(ms) == 90 and all(m % 10 == 0 for m in ms)
    assert abs(sum(ms) - 90_000 / float(fps)) <= 5


def test_mp4_odd_sizes_are_padded_even(tmp_path):
    with io.VideoWriter(tmp_path / "o.mp4", fps=10) as w:
        w.write_many(moving_frames(3, 33, 47)[:, :33, :47])
    info = io.video_info(tmp_path / "o.mp4")
    assert (info.width, info.height, info.n_frames) == (48, 34, 3)


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "frames"])
def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path, name):
    target = tmp_path / name
    if name != "frames":
        target.write_bytes(b"previous result")
    with pytest.raises(RuntimeError, match="boom"):
        with io.VideoWriter(target, fps=10) as w:
            w.write(moving_frames(1, 32)[0])
            raise RuntimeError("boom")
    if name == "frames":
        assert not target.exists()
    else:
        assert target.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ([name] if name != "frames" else [])


def test_write_image_is_atomic_and_round_trips(tmp_path):
    img = moving_frames(1, 16, 24)[0]
    io.write_image(tmp_path / "a.png", img)
    np.testing.assert_array_equal(io.read_image(tmp_path / "a.png"), img)
    with pytest.raises(io.MediaError, match="does not exist"):
        io.write_image(tmp_path / "missing" / "a.png", img)
    with pytest.raises(io.MediaError, match="cannot write image"):
        io.write_image(tmp_path / "a.unknownsuffix", img)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_writer_refuses_missing_folder_and_bad_targets(tmp_path):
    with pytest.raises(io.MediaError, match="does not exist"):
        io.VideoWriter(tmp_path / "missing" / "out.mp4", fps=10)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.png").write_bytes(b"")
    with pytest.raises(io.MediaError, match="not empty"):
        io.VideoWriter(tmp_path / "full", fps=10)
    with pytest.raises(io.MediaError, match=r"\.jpg"):
        io.VideoWriter(tmp_path / "out.jpg", fps=10)
    with pytest.raises(io.MediaError, match="no frames"):
        with io.VideoWriter(tmp_path / "o.mp4", fps=10):
            pass
    assert not (tmp_path / "o.mp4").exists()


_DISK_FULL = textwrap.dedent(
    """
    import resource, signal, sys
    import numpy as np
    from liaviz import io
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))
    frames = np.random.default_rng(0).integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)
    try:
        with io.VideoWriter(sys.argv[1], fps=10) as w:
            w.write_many(frames)
    except io.MediaError as e:
        print(e)
        sys.exit(3)
    """
)


@pytest.mark.parametrize("name", ["out.mp4", "out.gif"])
def test_disk_full_while_writing(tmp_path, name):
    """A full disk (simulated with a file size limit in a child process) is one clear error and
    leaves neither a partial file nor the temporary."""
    target = tmp_path / name
    target.write_bytes(b"old")
    r = subprocess.run(
        [sys.executable, "-c", _DISK_FULL, str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert r.returncode == 3, r.stderr
    assert "no space left" in r.stdout and name in r.stdout
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
