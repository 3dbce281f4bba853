"""FOMM-layout datasets: pairs, determinism, augmentation, and the files a real dataset holds."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from liaviz.data import DatasetError, FOMMDataset, RankSampler

from ._train_helpers import clip_frames, write_frame_folder, write_video


def marked_clip(folder: Path, n: int, clip_id: int, size: int = 32) -> Path:
    """Frames whose top-left pixel encodes (clip, frame): lets a test see which frames it got."""
    frames = clip_frames(n, size, seed=clip_id)
    frames[:, :4, :4] = 0
    for t in range(n):
        frames[t, :4, :4, 0] = 40 * clip_id + 20
        frames[t, :4, :4, 1] = 10 * t + 5
    return write_frame_folder(folder, frames)


def decode_mark(image: torch.Tensor) -> tuple[int, int]:
    """(clip, frame) from a [-1, 1] (3, S, S) tensor made by marked_clip (unaugmented)."""
    u8 = ((image[:, 1, 1] + 1) * 127.5).round().int()
    return (int(u8[0]) - 20) // 40, (int(u8[1]) - 5) // 10


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for k in range(3):
        marked_clip(tmp_path / "train" / f"clip_{k}", 6, k)
    return tmp_path


def test_pairs_are_two_distinct_frames_of_one_clip(root: Path) -> None:
    ds = FOMMDataset(root, size=32)
    assert len(ds) == 3
    seen_clips = set()
    for k in range(12):
        item = ds[k]
        assert item["source"].shape == (3, 32, 32) and item["source"].dtype == torch.float32
        assert -1.0 <= item["source"].min() and item["source"].max() <= 1.0
        (c1, f1), (c2, f2) = decode_mark(item["source"]), decode_mark(item["driving"])
        assert c1 == c2 == item["clip"]
        assert f1 != f2
        seen_clips.add(c1)
    # one epoch visits every clip exactly once
    assert sorted(ds.clip_of(k) for k in range(3)) == [0, 1, 2]
    assert seen_clips == {0, 1, 2}


def test_sampling_is_a_function_of_seed_and_index(root: Path) -> None:
    a, b = FOMMDataset(root, size=32, seed=5), FOMMDataset(root, size=32, seed=5)
    for k in (7, 0, 3, 7):  # any order, any instance
        assert torch.equal(a[k]["source"], b[k]["source"])
        assert torch.equal(a[k]["driving"], b[k]["driving"])
    c = FOMMDataset(root, size=32, seed=6)
    marks = [(decode_mark(a[k]["source"]), decode_mark(a[k]["driving"])) for k in range(12)]
    other = [(decode_mark(c[k]["source"]), decode_mark(c[k]["driving"])) for k in range(12)]
    assert marks != other


def test_near_pairs_lie_within_the_gap_and_off_changes_nothing(tmp_path: Path) -> None:
    for k in range(2):
        marked_clip(tmp_path / "train" / f"clip_{k}", 20, k)
    near = FOMMDataset(tmp_path, size=32, near_pairs=1.0, near_gap=2)
    gaps = []
    for k in range(40):
        (c1, f1), (c2, f2) = (decode_mark(near[k][part]) for part in ("source", "driving"))
        assert c1 == c2 and f1 != f2
        gaps.append(abs(f1 - f2))
    assert max(gaps) <= 2 and set(gaps) == {1, 2}
    # a share of near pairs: some pairs lie farther apart, some within the gap
    half = FOMMDataset(tmp_path, size=32, near_pairs=0.5, near_gap=1)
    half_gaps = [
        abs(decode_mark(half[k]["source"])[1] - decode_mark(half[k]["driving"])[1])
        for k in range(60)
    ]
    assert min(half_gaps) == 1 and max(half_gaps) > 1
    # off (the default) is the paper's stream, draw for draw: the first two frames of the
    # read attempt's permutation, with no draw before it
    off = FOMMDataset(tmp_path, size=32)
    for k in range(6):
        want = [int(i) for i in off._rng(k, 0).permutation(20)[:2]]
        got = [decode_mark(off[k][part])[1] for part in ("source", "driving")]
        assert got == want
    with pytest.raises(ValueError, match="near_pairs"):
        FOMMDataset(tmp_path, size=32, near_pairs=1.5)


def test_worker_processes_give_the_same_batches(root: Path) -> None:
    ds = FOMMDataset(root, size=32, flip=True, jitter=0.1)

    def first_batches(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(ds, batch_size=2, sampler=RankSampler(4, 0, 1, 2), num_workers=workers)
        it = iter(loader)
        return [next(it)["driving"] for _ in range(3)]

    for x, y in zip(first_batches(0), first_batches(2), strict=True):
        assert torch.equal(x, y)


def test_flip_and_jitter_are_the_same_for_both_frames(root: Path) -> None:
    plain = FOMMDataset(root, size=32)
    flipped = FOMMDataset(root, size=32, flip=True)
    n_flipped = 0
    for k in range(16):
        p, f = plain[k], flipped[k]
        same = torch.equal(p["source"], f["source"])
        mirrored = torch.equal(p["source"].flip(-1), f["source"])
        assert same or mirrored
        # the driving frame is mirrored exactly when the source is
        assert torch.equal(p["driving"].flip(-1) if mirrored else p["driving"], f["driving"])
        n_flipped += mirrored
    assert 3 <= n_flipped <= 13

    jittered = FOMMDataset(root, size=32, jitter=0.1)
    changed = 0
    for k in range(4):
        p, j = plain[k], jittered[k]
        assert j["source"].min() >= -1 and j["source"].max() <= 1
        changed += not torch.allclose(p["source"], j["source"], atol=1e-3)
        # one colour transform for both frames: pixels equal in both stay (nearly: contrast
        # pivots on each frame's own mean grey) equal in both, while the jitter moved them
        equal = (p["source"] == p["driving"]).all(0)
        moved = (j["source"][:, equal] - p["source"][:, equal]).abs().mean()
        apart = (j["source"][:, equal] - j["driving"][:, equal]).abs().max()
        assert apart < 0.01 and apart < moved / 2
    assert changed == 4


def test_clip_with_fewer_than_two_frames_is_skipped_with_one_warning(tmp_path: Path) -> None:
    marked_clip(tmp_path / "train" / "good", 4, 0)
    lonely = write_frame_folder(tmp_path / "train" / "lonely", clip_frames(1))
    factors = tmp_path / "train" / "factors_only"
    factors.mkdir()
    (factors / "factors.csv").write_text("frame,yaw\n0,0.1\n")
    # non-image files beside real frames are not frames
    (tmp_path / "train" / "good" / "factors.csv").write_text("frame,yaw\n")
    (tmp_path / "train" / "notes.txt").write_text("not a clip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = FOMMDataset(tmp_path, size=32)
    messages = [str(w.message) for w in caught]
    assert len(ds) == 1 and ds.clips[0].n_frames == 4
    assert sum(str(lonely) in m for m in messages) == 1
    assert sum(str(factors) in m for m in messages) == 1
    assert len(messages) == 2


def test_corrupt_frames_are_skipped(tmp_path: Path) -> None:
    clip = marked_clip(tmp_path / "train" / "a", 4, 0)
    bad = clip / "0002.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    ds = FOMMDataset(tmp_path, size=32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = set()
        for k in range(12):
            item = ds[k]
            f1, f2 = decode_mark(item["source"])[1], decode_mark(item["driving"])[1]
            assert f1 != f2
            frames |= {f1, f2}
    assert 2 not in frames and frames <= {0, 1, 3}
    assert any(str(bad) in str(w.message) for w in caught)


def test_clip_left_with_one_readable_frame_is_skipped_while_loading(tmp_path: Path) -> None:
    marked_clip(tmp_path / "train" / "a_good", 4, 0)
    broken = marked_clip(tmp_path / "train" / "b_broken", 2, 1)
    (broken / "0000.png").write_bytes(b"garbage")
    ds = FOMMDataset(tmp_path, size=32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clips = {decode_mark(ds[k]["source"])[0] for k in range(8)}
    assert clips == {0}
    skips = [w for w in caught if "fewer than two readable frames" in str(w.message)]
    assert len(skips) == 1 and str(broken) in str(skips[0].message)


def test_video_files_are_clips(tmp_path: Path) -> None:
    frames = clip_frames(6, 32, seed=1)
    write_video(tmp_path / "train" / "a.mp4", frames)
    write_video(tmp_path / "train" / "b.gif", frames)
    write_video(tmp_path / "train" / "single.gif", frames[:1])
    (tmp_path / "train" / "c.mp4").write_bytes(b"this is no video")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = FOMMDataset(tmp_path, size=16)
    names = sorted(c.path.name for c in ds.clips)
    assert names == ["a.mp4", "b.gif"]
    assert {c.n_frames for c in ds.clips} == {6}
    warned = " ".join(str(w.message) for w in caught)
    assert "single.gif" in warned and "c.mp4" in warned
    for k in range(4):
        item = ds[k]
        assert item["source"].shape == (3, 16, 16)
        assert not torch.equal(item["source"], item["driving"])  # distinct frames of a moving disc


def test_empty_or_missing_split_names_the_folder(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "README.txt").write_text("nothing here")
    with pytest.raises(DatasetError, match=str(tmp_path / "train")):
        FOMMDataset(tmp_path)
    with pytest.raises(DatasetError, match=str(tmp_path / "test")):
        FOMMDataset(tmp_path, split="test")
    with pytest.raises(DatasetError, match="not found"):
        FOMMDataset(tmp_path / "nowhere")


def test_frames_are_resized_to_the_model_size(tmp_path: Path) -> None:
    write_frame_folder(tmp_path / "train" / "big", clip_frames(3, 64))
    item = FOMMDataset(tmp_path, size=32)[0]
    assert item["source"].shape == (3, 32, 32)


def test_rank_sampler_splits_each_step_and_resumes() -> None:
    def take(sampler: RankSampler, n: int) -> list[int]:
        it = iter(sampler)
        return [next(it) for _ in range(n)]

    # 2 processes, micro-batch 2, one step = 4 samples: ranks take alternate pairs
    assert take(RankSampler(0, 0, 2, 2), 6) == [0, 1, 4, 5, 8, 9]
    assert take(RankSampler(0, 1, 2, 2), 6) == [2, 3, 6, 7, 10, 11]
    # resuming at step 3 (12 samples) continues the same streams
    assert take(RankSampler(12, 1, 2, 2), 2) == [14, 15]
    # one process sees the same samples per step as two
    assert np.array_equal(sorted(take(RankSampler(0, 0, 1, 4), 4)), [0, 1, 2, 3])
