"""The procedural talking faces: determinism, what each motion factor does to the pixels, the
dataset layout on disk, and `liaviz synth`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from liaviz.cli import main
from liaviz.data import synthetic as syn
from liaviz.data.synthetic import (
    FACTOR_NAMES,
    FACTORS,
    FaceRenderer,
    Identity,
    SynthError,
    neutral_factors,
    read_factors,
    read_manifest,
    render_face,
    render_video,
    sample_trajectory,
    video_frames,
    video_spec,
    write_dataset,
)

SIZE = 128  # big enough that each facial part has a solid interior of exact colour


def plain_identity(seed: int = 0, **overrides) -> Identity:
    """A random face with the distracting extras removed and colours that do not collide:
    dark hair is not confused with brows, no white collar or glasses near the eyes."""
    who = Identity.sample(np.random.default_rng(seed))
    fields = dict(
        skin=(200, 140, 102),
        hair=(205, 170, 100),
        hair_style="short",
        brow_color=(70, 45, 30),
        iris=(70, 120, 184),
        lips=(190, 80, 90),
        background="flat",
        bg_colors=((90, 120, 160), (90, 120, 160)),
        clothes=(40, 90, 60),
        collar="crew",
        glasses="none",
        hat="none",
        earrings=False,
        beard="none",
        moustache=False,
        blush=False,
    )
    fields.update(overrides)
    return replace(who, **fields)


def mask(img: np.ndarray, color, tol: int = 6) -> np.ndarray:
    return (np.abs(img.astype(int) - np.array(color)) <= tol).all(axis=-1)


def centroid(m: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(m)
    assert len(xs) > 0, "nothing of that colour in the image"
    return np.array([xs.mean(), ys.mean()])


class Faces:
    """Renders one plain identity with factors changed from neutral, and finds its parts: each
    pixel is labelled with the nearest colour of the renderer's palette (or none if far)."""

    def __init__(self, seed: int = 0, **overrides) -> None:
        self.who = plain_identity(seed, **overrides)
        self.r = FaceRenderer(self.who, SIZE)
        pal = dict(self.r.palette, background=self.who.bg_colors[0])
        self.names = list(pal)
        self.colors = np.array([pal[n] for n in self.names], dtype=int)

    def img(self, **factors) -> np.ndarray:
        return self.r.render_array(factors)

    def part(self, img: np.ndarray, *names: str) -> np.ndarray:
        dist = np.abs(img.astype(int)[:, :, None, :] - self.colors).sum(-1)
        label = dist.argmin(-1)
        near = dist.min(-1) < 40
        wanted = [self.names.index(n) for n in names]
        return np.isin(label, wanted) & near

    def eyes(self, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(left, right) masks of sclera + iris + pupil, split at the midpoint between eyes."""
        m = self.part(img, "sclera", "iris", "pupil")
        mid = centroid(m)[0]
        cols = np.arange(img.shape[1])[None, :]
        return m & (cols < mid), m & (cols >= mid)


@pytest.fixture(scope="module")
def faces() -> Faces:
    return Faces(seed=3)


# ---- rendering ----------------------------------------------------------------------------------


def test_render_is_deterministic_and_identities_differ():
    a = Identity.sample(np.random.default_rng(11))
    assert a == Identity.sample(np.random.default_rng(11))
    f = {"yaw": 12.0, "mouth_open": 0.6, "blink": 0.3}
    img = render_face(a, f, 64)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert np.array_equal(img, render_face(a, f, 64))
    b = Identity.sample(np.random.default_rng(12))
    assert np.abs(img.astype(int) - render_face(b, f, 64)).mean() > 5


def test_neutral_is_the_default_and_unknown_factors_are_refused():
    who = Identity.sample(np.random.default_rng(1))
    assert np.array_equal(render_face(who, {}, 32), render_face(who, neutral_factors(), 32))
    with pytest.raises(ValueError, match="unknown factor"):
        render_face(who, {"yawn": 1.0}, 32)


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_the_face_fills_the_frame_and_the_eyes_are_large(seed):
    """Framed like VoxCeleb crops: cheek to cheek and brow to chin the face spans most of the
    frame, and the open eyes alone cover over 1% of it (several pixels tall even at 64 px)."""
    f = Faces(seed=seed)
    img = f.img()
    ys, xs = np.nonzero(f.part(img, "skin", "skin_lit", "shade"))
    assert xs.max() - xs.min() > 0.65 * SIZE and ys.max() - ys.min() > 0.65 * SIZE
    assert f.part(img, "sclera", "iris", "pupil").sum() > 0.01 * SIZE * SIZE


def test_every_factor_changes_the_image():
    who = Identity.sample(np.random.default_rng(2))
    r = FaceRenderer(who, 64)
    base = r.render_array({})
    for f in FACTORS:
        other = f.high if f.high != f.neutral else f.low
        diff = np.abs(r.render_array({f.name: other}).astype(int) - base).sum(-1)
        assert (diff > 30).sum() >= 4, f"{f.name} barely changes the image"


def test_closing_the_eyes_removes_eye_pixels(faces):
    open_ = faces.part(faces.img(blink=0.0), "sclera", "iris", "pupil").sum()
    half = faces.part(faces.img(blink=0.5), "sclera", "iris", "pupil").sum()
    shut = faces.part(faces.img(blink=1.0), "sclera", "iris", "pupil").sum()
    assert open_ > 40
    assert 0 < half < open_
    assert shut == 0


def test_opening_the_mouth_adds_mouth_pixels(faces):
    counts = [faces.part(faces.img(mouth_open=v), "mouth", "teeth").sum() for v in (0, 0.3, 0.6, 1)]
    assert counts[0] == 0
    assert counts[1] < counts[2] < counts[3]
    assert counts[3] > 60
    assert faces.part(faces.img(mouth_open=1.0), "teeth").sum() > 5


def test_yaw_moves_the_features_toward_the_turn_and_foreshortens_the_far_eye(faces):
    x = {}
    for yaw in (-25, 0, 25):
        img = faces.img(yaw=yaw)
        x[yaw] = centroid(faces.part(img, "sclera", "iris", "pupil", "nostril"))[0]
    assert x[25] - x[0] > 4 and x[0] - x[-25] > 4
    # turned to the image's right, the right eye faces away from the camera: narrower
    left, right = faces.eyes(faces.img(yaw=25))
    width = lambda m: np.ptp(np.nonzero(m)[1])  # noqa: E731
    assert width(right) < 0.9 * width(left)
    # the head outline moves much less than the features painted on it
    skin = [centroid(faces.part(faces.img(yaw=y), "skin"))[0] for y in (0, 25)]
    assert abs(skin[1] - skin[0]) < 0.5 * (x[25] - x[0])


def test_pitch_moves_the_features_up_and_down(faces):
    y = {
        p: centroid(faces.part(faces.img(pitch=p), "sclera", "iris", "pupil"))[1]
        for p in (-15, 0, 15)
    }
    assert y[15] < y[0] - 3 and y[-15] > y[0] + 3


def test_roll_tilts_the_line_between_the_eyes(faces):
    for roll, sign in ((12, 1), (-12, -1), (0, 0)):
        left, right = faces.eyes(faces.img(roll=roll))
        dy = centroid(right)[1] - centroid(left)[1]
        if sign == 0:
            assert abs(dy) < 1
        else:
            assert sign * dy > 4  # clockwise: the right eye drops


def test_translation_and_scale(faces):
    c0 = centroid(faces.part(faces.img(), "skin"))
    c1 = centroid(faces.part(faces.img(tx=0.05, ty=-0.04), "skin"))
    assert np.allclose(c1 - c0, [0.05 * SIZE, -0.04 * SIZE], atol=1.0)
    n0 = faces.part(faces.img(), "skin").sum()
    n1 = faces.part(faces.img(scale=1.1), "skin").sum()
    assert 1.12 < n1 / n0 < 1.3  # area grows with the square of the scale


def test_gaze_moves_the_iris_within_the_eye(faces):
    def offset(**f):
        img = faces.img(**f)
        eye = centroid(faces.part(img, "sclera", "iris", "pupil"))
        return centroid(faces.part(img, "iris", "pupil")) - eye

    right, left = offset(gaze_x=1.0), offset(gaze_x=-1.0)
    assert right[0] > 1 and left[0] < -1
    down, up = offset(gaze_y=1.0), offset(gaze_y=-1.0)
    assert down[1] - up[1] > 1.5


def test_smile_lifts_the_mouth_corners(faces):
    def corner_lift(smile: float) -> float:
        m = faces.part(faces.img(smile=smile), "lips")
        ys, xs = np.nonzero(m)
        lo, hi = xs.min(), xs.max()
        edge = (xs < lo + 0.15 * (hi - lo)) | (xs > hi - 0.15 * (hi - lo))
        centre = np.abs(xs - (lo + hi) / 2) < 0.1 * (hi - lo)
        return ys[centre].mean() - ys[edge].mean()  # > 0: corners above the middle

    assert corner_lift(1.0) > 1
    assert corner_lift(-1.0) < -1
    assert corner_lift(1.0) > corner_lift(0.0) > corner_lift(-1.0)


def test_brow_raise_lifts_the_brows(faces):
    y = {b: centroid(faces.part(faces.img(brow_raise=b), "brow"))[1] for b in (-1.0, 0.0, 1.0)}
    assert y[1.0] < y[0.0] - 3 and y[-1.0] > y[0.0] + 3


def test_render_video_matches_single_frames():
    rng = np.random.default_rng(4)
    who, traj = Identity.sample(rng), sample_trajectory(rng, 3)
    video = render_video(who, traj, 32)
    assert video.shape == (3, 32, 32, 3)
    frame2 = render_face(who, {k: v[2] for k, v in traj.items()}, 32)
    assert np.array_equal(video[2], frame2)


# ---- trajectories and identities ----------------------------------------------------------------


def test_trajectories_are_seeded_in_range_smooth_and_extend():
    a = sample_trajectory(np.random.default_rng(7), 64)
    b = sample_trajectory(np.random.default_rng(7), 64)
    assert list(a) == list(FACTOR_NAMES)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    short = sample_trajectory(np.random.default_rng(7), 20)
    assert all(np.array_equal(short[k], a[k][:20]) for k in a)  # longer videos extend shorter
    c = sample_trajectory(np.random.default_rng(8), 64)
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    pooled = {k: [] for k in a}
    for seed in range(12):
        t = sample_trajectory(np.random.default_rng(seed), 64)
        for f in FACTORS:
            v = t[f.name]
            assert v.shape == (64,)
            assert f.low <= v.min() and v.max() <= f.high, f.name
            if f.name not in ("blink", "mouth_open", "gaze_x", "gaze_y"):
                span = f.high - f.low
                steps = np.abs(np.diff(v)) / span
                assert steps.max() < 0.25 and np.median(steps) < 0.05, f"{f.name} jumps"
            pooled[f.name].append(v)
    for f in FACTORS:  # the videos together explore most of each range
        v = np.concatenate(pooled[f.name])
        assert np.ptp(v) > 0.6 * (f.high - f.low), f.name


def test_expressions_change_often_and_blinks_shut_the_eyes():
    """Expressions are held a few frames, then move to a new value: in 64 frames each one makes
    several separate moves (a slow drift would be one long move), and the eyes shut fully about
    every 10 frames."""
    moves: dict[str, list[int]] = {
        k: [] for k in ("gaze_x", "gaze_y", "mouth_open", "smile", "brow_raise")
    }
    shut = []
    for seed in range(12):
        t = sample_trajectory(np.random.default_rng(seed), 64)
        for k in moves:
            moving = np.abs(np.diff(t[k])) > 1e-6
            moves[k].append(int(moving[0]) + int((moving[1:] & ~moving[:-1]).sum()))
        closed = t["blink"] >= 0.95
        shut.append(int(closed[0]) + int((closed[1:] & ~closed[:-1]).sum()))
    for k, counts in moves.items():
        assert np.median(counts) >= 3, (k, counts)
    assert np.mean(shut) >= 3, shut


def test_identity_round_trips_through_json():
    who = Identity.sample(np.random.default_rng(5))
    assert Identity.from_dict(json.loads(json.dumps(who.to_dict()))) == who


def test_train_and_test_identities_never_collide():
    train = [video_spec(0, "train", i, 2)[0] for i in range(30)]
    test = [video_spec(0, "test", i, 2)[0] for i in range(30)]
    assert len({json.dumps(w.to_dict()) for w in train + test}) == 60
    with pytest.raises(ValueError, match="split"):
        video_spec(0, "val", 0, 2)


# ---- datasets on disk ---------------------------------------------------------------------------

N_VIDEOS, N_TEST, N_FRAMES, DS_SIZE, SEED = 4, 1, 3, 32, 5


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "faces"
    write_dataset(out, N_VIDEOS, N_FRAMES, DS_SIZE, SEED, n_test=N_TEST, workers=1, progress=False)
    return out


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_dataset_layout_and_contents(dataset):
    assert sorted(p.name for p in dataset.iterdir()) == ["synth.json", "test", "train"]
    manifest = read_manifest(dataset)
    assert manifest["complete"] and manifest["videos"] == {"train": 3, "test": 1}
    assert [f["name"] for f in manifest["factors"]] == list(FACTOR_NAMES)
    for split, n in (("train", 3), ("test", 1)):
        videos = sorted(p.name for p in (dataset / split).iterdir())
        assert videos == [f"{split}-{i:05d}" for i in range(n)]
        for i, name in enumerate(videos):
            d = dataset / split / name
            names = sorted(p.name for p in d.iterdir())
            assert names == ["00000.png", "00001.png", "00002.png", "factors.csv", "identity.json"]
            frames, traj, who = video_frames(SEED, split, i, N_FRAMES, DS_SIZE)
            for t in range(N_FRAMES):
                with Image.open(d / f"{t:05d}.png") as im:
                    assert im.format == "PNG" and im.mode == "RGB" and im.size == (32, 32)
                    assert np.array_equal(np.asarray(im), frames[t])  # lossless
            lines = (d / "factors.csv").read_text().splitlines()
            assert lines[0] == "frame," + ",".join(FACTOR_NAMES)
            assert [ln.split(",")[0] for ln in lines[1:]] == ["0", "1", "2"]
            back = read_factors(d)
            assert all(np.array_equal(back[k], traj[k]) for k in FACTOR_NAMES)
            assert Identity.from_dict(json.loads((d / "identity.json").read_text())) == who


def test_dataset_splits_hold_different_people(dataset):
    def people(split):
        return {(p / "identity.json").read_text() for p in (dataset / split).iterdir()}

    assert len(people("train")) == 3 and len(people("test")) == 1
    assert not people("train") & people("test")


def test_dataset_is_the_same_bytes_whatever_the_workers(dataset, tmp_path):
    again = tmp_path / "again"
    write_dataset(
        again, N_VIDEOS, N_FRAMES, DS_SIZE, SEED, n_test=N_TEST, workers=2, progress=False
    )
    assert files_of(again) == files_of(dataset)
    other = tmp_path / "other"
    write_dataset(
        other, N_VIDEOS, N_FRAMES, DS_SIZE, SEED + 1, n_test=N_TEST, workers=1, progress=False
    )
    a, b = files_of(dataset), files_of(other)
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a if k.endswith(".png"))


def test_interrupted_run_is_detectable(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = syn.FaceRenderer.render

    def flaky(self, factors):
        calls["n"] += 1
        if calls["n"] > 4:  # dies in the middle of the second video
            raise KeyboardInterrupt
        return real(self, factors)

    monkeypatch.setattr(syn.FaceRenderer, "render", flaky)
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        write_dataset(out, 3, 3, 16, 0, n_test=0, workers=1, progress=False)
    assert json.loads((out / "synth.json").read_text())["complete"] is False
    # only whole videos, and no half-written one left hidden beside them
    assert sorted(p.name for p in out.iterdir()) == ["synth.json", "test", "train"]
    assert [p.name for p in (out / "train").iterdir()] == ["train-00000"]
    assert len(list((out / "train" / "train-00000").iterdir())) == 5
    with pytest.raises(SynthError, match="incomplete"):
        read_manifest(out)
    monkeypatch.undo()
    # --overwrite replaces it (and the staging folder older writers left) with the whole dataset
    (out / ".incomplete" / "train-00001").mkdir(parents=True)
    write_dataset(out, 3, 3, 16, 0, n_test=0, workers=1, progress=False, overwrite=True)
    fresh = tmp_path / "fresh"
    write_dataset(fresh, 3, 3, 16, 0, n_test=0, workers=1, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["synth.json", "test", "train"]
    assert files_of(out) == files_of(fresh) and read_manifest(out)["complete"]


def test_write_dataset_refuses_bad_arguments(tmp_path):
    for kwargs, msg in (
        (dict(n_videos=0), "videos"),
        (dict(n_frames=1), "frames"),
        (dict(size=8), "size"),
        (dict(n_test=5), "test videos"),
        (dict(test_fraction=1.5), "test fraction"),
    ):
        args = dict(n_videos=3, n_frames=2, size=16, seed=0, progress=False) | kwargs
        with pytest.raises(SynthError, match=msg):
            write_dataset(tmp_path / "x", **args)


# ---- the command line ---------------------------------------------------------------------------


def synth(out: Path, *extra: str) -> int:
    args = [
        "synth",
        "--out",
        str(out),
        "--videos",
        "3",
        "--frames",
        "2",
        "--size",
        "16",
        "--seed",
        "1",
    ]
    return main(args + ["--quiet", *extra])


def test_cli_writes_a_dataset_and_guards_the_folder(tmp_path, capsys):
    out = tmp_path / "ds"
    assert synth(out, "--test-videos", "2") == 0
    assert "1 train + 2 test videos" in capsys.readouterr().out
    assert len(list((out / "test").iterdir())) == 2
    before = files_of(out)

    assert synth(out) == 2  # non-empty: refused, untouched
    err = capsys.readouterr().err
    assert err.startswith("liaviz synth: error:") and "--overwrite" in err
    assert files_of(out) == before

    assert synth(out, "--overwrite") == 0  # default split: 1 test video of 3
    assert len(list((out / "test").iterdir())) == 1 and len(list((out / "train").iterdir())) == 2

    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    assert synth(stranger, "--overwrite") == 2  # not ours: never deleted
    assert "not a dataset written by liaviz synth" in capsys.readouterr().err
    assert (stranger / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--videos", "0"], "argument --videos: the value must be from 1"),
        (["--frames", "1"], "argument --frames: the value must be from 2"),
        (["--size", "abc"], "argument --size: the value must be an integer"),
        (["--seed", "-3"], "argument --seed: the value must be from 0"),
        (["--videos", "100000000000000000000"], "argument --videos: the value must be from 1"),
    ],
)
def test_cli_rejects_bad_arguments(tmp_path, capsys, extra, message):
    assert main(["synth", "--out", str(tmp_path / "x"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_reports_an_impossible_split(tmp_path, capsys):
    assert synth(tmp_path / "x", "--test-videos", "4") == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("liaviz synth: error: test videos must be between 0 and") and "\n" not in err
    )
