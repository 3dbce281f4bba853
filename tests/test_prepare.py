"""`liaviz prepare` on raw videos with real faces on known paths: every clip that should come out
does, with the right frame range, its crop holds the face in every frame, nothing else comes
out; the tracking rule; sparse detection against detection on every frame."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from liaviz.cli import main
from liaviz.faces import Face, scan_clip, split_tracks
from liaviz.faces.framing import CropBox
from liaviz.faces.track import video_detector
from liaviz.io import read_video

from ._face_videos import drifting, known_paths, leaving

SMALL = ["--size", "64", "--min-side", "64", "--quiet"]


def manifest(root: Path) -> list[dict]:
    with open(root / "manifest.csv") as f:
        return list(csv.DictReader(f))


def box_of(row: dict) -> CropBox:
    return CropBox(float(row["x0"]), float(row["y0"]), float(row["side"]))


def holds(box: CropBox, face: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = box.bounds
    return x0 <= face[0] and y0 <= face[1] and face[2] <= x1 and face[3] <= y1


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    made = {"paths": known_paths(), "leaving": leaving()}
    for name, scene in made.items():
        scene.write(raw / f"{name}.mp4")
    out = raw.parent / "prepared"
    assert main(["prepare", str(raw), "--out", str(out), "--min-frames", "10", *SMALL]) == 0
    return raw, out, made


def test_every_face_track_comes_out_once_with_its_frames_and_nothing_else(scenes):
    raw, out, made = scenes
    rows = manifest(out)
    scene = made["paths"]
    expected = [(a.first, a.end, a) for a in scene.appearances]  # mona, mona, astronaut
    assert len(rows) == len(expected) == 3
    for first, end, appearance in expected:
        (row,) = [
            r
            for r in rows
            if int(r["first_frame"]) <= first + 1 < int(r["end_frame"])
            and holds(box_of(r), appearance.face_box(first + 1))
        ]
        assert abs(int(row["first_frame"]) - first) <= 1 and abs(int(row["end_frame"]) - end) <= 1
        box = box_of(row)
        for index in range(int(row["first_frame"]), int(row["end_frame"])):
            assert holds(box, appearance.face_box(index)), (appearance.face, index)
        clip = read_video(out / row["clip"])
        assert len(clip) == int(row["frames"])
        for k in (0, len(clip) - 1):  # the clip is that crop of those frames
            want = box.crop(scene.frames[int(row["first_frame"]) + k], 64).astype(int)
            assert np.abs(clip[k].astype(int) - want).mean() < 6
    # the face walking out of the frame: its crop leaves the frame, so it is dropped, and said
    # so; the clips on disk are exactly the manifest's
    files = sorted(p.relative_to(out).as_posix() for p in out.glob("t*/*.mp4"))
    assert files == sorted(r["clip"] for r in rows)
    assert not [p for p in out.rglob(".*")]  # no temporaries left


def test_a_face_leaving_the_frame_is_padded_with_pad(tmp_path):
    scene = leaving()
    scene.write(tmp_path / "leaving.mp4")
    out = tmp_path / "out"
    args = ["prepare", str(tmp_path / "leaving.mp4"), "--out", str(out), "--min-frames", "5"]
    assert main([*args, *SMALL]) == 2  # no clip: the crop leaves the frame
    records = list((out / "sources").glob("*.json"))
    assert len(records) == 1 and '"outside": 1' in records[0].read_text()
    args[3] = str(tmp_path / "padded")
    assert main([*args, "--pad", *SMALL]) == 0
    (row,) = manifest(tmp_path / "padded")
    (appearance,) = scene.appearances
    visible = [i for i in range(24) if appearance.face_box(i)[0] < 640 - 40]  # half the face in
    out_of_frame = [i for i in range(24) if appearance.face_box(i)[2] > 640]
    assert row["first_frame"] == "0" and row["padded"] == "1"
    assert out_of_frame[0] <= int(row["end_frame"]) <= visible[-1] + 2
    for index in range(int(row["end_frame"])):  # the visible part of the face is in the crop
        x0, y0, x1, y1 = appearance.face_box(index)
        assert holds(box_of(row), (x0, y0, min(x1, 640), y1))


def test_a_drifting_face_is_cut_where_it_leaves_its_first_box(tmp_path):
    scene = drifting()
    scene.write(tmp_path / "drift.mp4")
    out = tmp_path / "out"
    args = ["prepare", str(tmp_path / "drift.mp4"), "--out", str(out), "--min-frames", "2"]
    assert main([*args, *SMALL]) == 0
    rows = sorted(manifest(out), key=lambda r: int(r["first_frame"]))
    assert len(rows) >= 3  # it crosses the frame: several tracks
    ranges = [(int(r["first_frame"]), int(r["end_frame"])) for r in rows]
    assert ranges[0][0] == 0 and ranges[-1][1] == 24
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # back to back
    (appearance,) = scene.appearances
    for row, (first, end) in zip(rows, ranges, strict=True):
        assert all(holds(box_of(row), appearance.face_box(i)) for i in range(first, end))


def _face(x: float, y: float, side: float = 50.0) -> Face:
    return Face((x, y, x + side, y + side), np.zeros((5, 2)), 0.9)


def test_split_tracks_compares_with_the_first_box():
    # face A moves 10 px a frame (IoU with its first box falls to 0.25 at 24 px: frame 3
    # is 30 px away), face B stays, and is lost at frame 4 for a frame
    faces = [[_face(10 * t, 0), _face(300, 0)] for t in range(4)]
    faces += [[_face(40, 0)], [_face(50, 0), _face(300, 0)]]
    tracks = split_tracks(faces, first=100)
    spans = sorted((t.first, t.end, round(t.faces[0].box[0])) for t in tracks)
    # A: 0, 10, 20, then at 30 px IoU is 20/80 = 0.25 (not above): a new track from frame 3
    assert spans == [(100, 103, 0), (100, 104, 300), (103, 106, 30), (105, 106, 300)]


def test_sparse_detection_finds_the_same_faces_as_detecting_every_frame():
    scene = known_paths()
    frames = [f[::2, ::2] for f in scene.frames]  # 320x180: faster, and a smaller face
    detector = video_detector()
    dense = scan_clip(frames, detector, every=1)
    sparse = scan_clip(frames, detector, every=5)
    assert sparse.cuts == dense.cuts == scene.cuts
    assert [len(f) for f in sparse.faces] == [len(f) for f in dense.faces]
    for a, b in zip(dense.faces, sparse.faces, strict=True):
        for fa, fb in zip(a, b, strict=True):
            assert np.abs(np.subtract(fa.box, fb.box)).max() < 4  # px at 320x180
