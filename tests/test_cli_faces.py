"""`liaviz animate` and `liaviz crop` on inputs as users have them: a wide photo with the face
off centre, several faces, no face, a moving face in a 16:9 clip, cuts and lost frames."""

from __future__ import annotations

import numpy as np
import pytest

from liaviz.cli import main
from liaviz.io import read_image, write_image

from ._faces import MONA, canvas, moving_clip, photo, put
from ._media import write_mp4

pytestmark = pytest.mark.usefixtures("one_thread")


def animate(tmp_path, source, driving, *extra, out="out"):
    argv = ["animate", "--checkpoint", "embedded", "--source", str(source)]
    argv += ["--driving", str(driving), "--out", str(tmp_path / out), "--no-progress"]
    return main(argv + list(extra))


@pytest.fixture
def clip(tmp_path):
    """A 640x360 clip of the face moving right; its true squares per frame."""
    return tmp_path / "move.mp4", moving_clip(tmp_path / "move.mp4", 12, (120, 80), (8, 0), 140)


def test_the_face_is_animated_in_place_in_the_whole_photo(tmp_path, clip, capsys):
    source = write_image(tmp_path / "photo.png", photo(720, 400, 430, 90, 220))
    assert animate(tmp_path, source, clip[0]) == 0
    frames = sorted((tmp_path / "out").iterdir())
    assert len(frames) == 12
    image = read_image(source)
    first = read_image(frames[0])
    assert first.shape == image.shape
    # the photo around the crop is untouched in every frame, bit for bit
    err = capsys.readouterr().err
    assert "pasted back into the 720x400 photo" in err and "face crop [" in err
    outside = np.ones(image.shape[:2], bool)
    outside[60:380, 380:700] = False  # generously around the face's crop
    for path in frames[::5]:
        assert np.array_equal(read_image(path)[outside], image[outside])
    assert animate(tmp_path, source, clip[0], "--no-paste-back", out="crop") == 0
    assert read_image(sorted((tmp_path / "crop").iterdir())[0]).shape == (64, 64, 3)


@pytest.mark.parametrize("step", [(8, 0), (-6, 6)])
def test_the_fixed_driving_crop_keeps_the_path_of_the_head(tmp_path, step):
    """The face crosses a 1280x720 clip along a known path; the animated face follows the
    path's direction (phase correlation of the first and last output frames;
    benchmarks/bench_face_clip.py measures eight directions)."""
    import cv2

    driving = tmp_path / "path.mp4"
    start = (540 - 10 * step[0], 260 - 10 * step[1])
    moving_clip(driving, 20, start, step, 200, size=(1280, 720))
    assert animate(tmp_path, tmp_path / "m.png", driving, "--no-paste-back") == 2  # no file yet
    write_image(tmp_path / "m.png", MONA)
    assert animate(tmp_path, tmp_path / "m.png", driving, "--no-paste-back") == 0
    out = sorted((tmp_path / "out").iterdir())
    a, b = (read_image(p).mean(axis=2).astype(np.float32) for p in (out[0], out[-1]))
    (dx, dy), _ = cv2.phaseCorrelate(a, b)
    path = np.array(step, float) / np.linalg.norm(step)
    moved = np.array([dx, dy])
    assert np.linalg.norm(moved) > 1.0
    # within 45 degrees of the path, each component the path's way (the small embedded model
    # renders vertical head motion more strongly than horizontal: cosines 0.83-1.0 here)
    assert moved @ path > 0.7 * np.linalg.norm(moved)
    assert all(np.sign(m) == np.sign(p) for m, p in zip(moved, step, strict=True) if p)


def test_no_face_is_one_line_naming_crop_center_and_writes_nothing(tmp_path, clip, capsys):
    source = write_image(tmp_path / "wall.png", canvas(640, 360))
    assert animate(tmp_path, source, clip[0], out="x.mp4") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no face found" in err[0] and "--crop center" in err[0]
    assert not (tmp_path / "x.mp4").exists()
    assert animate(tmp_path, source, clip[0], "--crop", "center", "--driving-crop", "auto") == 0


def test_several_faces_take_the_largest_and_face_picks_another(tmp_path, clip, capsys):
    group = put(photo(960, 540, 40, 100, 300), MONA, 640, 180, 200)
    source = write_image(tmp_path / "two.png", group)
    assert animate(tmp_path, source, clip[0], "--face", "2", "--no-paste-back", out="b") == 0
    assert "the largest of 2 faces" not in capsys.readouterr().err
    assert animate(tmp_path, source, clip[0], "--face", "3", out="c.mp4") == 2
    assert "--face 3 asked, but 2 face(s) found" in capsys.readouterr().err
    assert not (tmp_path / "c.mp4").exists()


def test_a_face_at_the_border_is_padded(tmp_path, clip, capsys):
    source = write_image(tmp_path / "edge.png", photo(640, 360, 470, 120, 240))
    assert animate(tmp_path, source, clip[0]) == 0
    assert "padded where it leaves the image" in capsys.readouterr().err


def test_lost_frames_and_cuts_in_the_driving_video_are_counted(tmp_path, capsys):
    shot_a = [photo(640, 360, 100 + 4 * t, 80, 150) for t in range(8)]
    hidden = [canvas(640, 360) for _ in range(4)]  # the face is gone: no cut, a lost face
    shot_b = [put(canvas(640, 360, (200, 150, 60)), MONA, 380, 120, 170) for _ in range(6)]
    write_mp4(tmp_path / "drive.mp4", np.stack(shot_a + hidden + shot_b))
    write_image(tmp_path / "m.png", MONA)
    assert animate(tmp_path, tmp_path / "m.png", tmp_path / "drive.mp4", out="o.gif") == 0
    err = capsys.readouterr().err
    assert "2 shots, one fixed face crop each (1 cut(s))" in err
    assert "4 of 18 frames had no face found and kept the crop" in err


def test_a_30_px_face_is_found_and_cropped(tmp_path, clip, capsys):
    source = write_image(tmp_path / "far.png", photo(640, 360, 300, 200, 40))  # face ~30 px
    assert animate(tmp_path, source, clip[0], "--no-paste-back", "--size", "64") == 0
    assert "face crop [" in capsys.readouterr().err
    from liaviz.faces import CropBox, align

    placed = align(read_image(source), 256)
    assert placed.box.iou(CropBox(300, 200, 40)) > 0.7
    assert "the face is small: its crop is enlarged" in placed.describe()


def test_crop_writes_the_crop_and_an_overlay(tmp_path, clip, capsys):
    image = photo(800, 450, 300, 100, 260)
    source = write_image(tmp_path / "p.png", image)
    assert main(["crop", str(source), "--out", str(tmp_path / "c"), "--size", "128"]) == 0
    crop = read_image(tmp_path / "c" / "crop.png")
    overlay = read_image(tmp_path / "c" / "overlay.png")
    assert crop.shape == (128, 128, 3) and overlay.shape == image.shape
    assert np.abs(crop.astype(int) - np.asarray(MONA[::2, ::2])).mean() < 20  # the face again
    assert (overlay != image).any(axis=2).sum() > 1000  # the boxes drawn
    assert main(["crop", str(clip[0]), "--out", str(tmp_path / "v"), "--no-progress"]) == 0
    assert {p.name for p in (tmp_path / "v").iterdir()} == {"crop.mp4", "overlay.mp4"}
    assert "one fixed face crop" in capsys.readouterr().err
    wall = write_image(tmp_path / "wall.png", canvas(640, 360))
    assert main(["crop", str(wall), "--out", str(tmp_path / "w")]) == 2
    assert not (tmp_path / "w").exists()
