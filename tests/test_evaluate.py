"""Same-identity reconstruction: L1 as the official evaluation computes it, LPIPS from local
weights only, reports, and the `liaviz evaluate` command."""

from __future__ import annotations

import csv
import json
import pickle
import warnings

import numpy as np
import pytest
import torch

from liaviz import io, save_model
from liaviz.cli import main
from liaviz.pipelines.evaluate import EvaluationError, evaluate, find_clips
from liaviz.pipelines.lpips import CHANNELS, LPIPS, LPIPSError

from ._media import aliases, moving_frames, write_mp4, write_png_folder

# one thread per test: tiny models on 2 threads spin-wait on each other on a busy 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def split(tmp_path):
    root = tmp_path / "test"
    root.mkdir()
    write_png_folder(root / "a", moving_frames(6, 64, seed=1))
    write_mp4(root / "b.mp4", moving_frames(5, 64, seed=2), fps=25)
    (root / "broken.mp4").write_bytes(b"not a video" * 20)
    (root / "notes.txt").write_text("ignored")
    return root


def _gen(model, source: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
    """The official gen(source, driving) in absolute mode, one frame, from the model API."""
    state = model.encode_source(source)
    return model.decode(state, model.absolute_latent(state, model.encode_motion(driving)))


def _official_l1(model, frames_u8: np.ndarray) -> float:
    """LIA's evaluation: gen(first frame, each frame) in absolute mode, then
    mean |0.5 * (clamp(recon) - real)| over the clip."""
    x = io.to_tensor(frames_u8)
    with torch.inference_mode():
        recon = torch.cat([_gen(model, x[:1], x[i : i + 1]) for i in range(len(x))])
    return float((0.5 * (recon.clamp(-1, 1) - x)).abs().mean())


def test_l1_matches_the_official_protocol(tiny_model, split):
    with pytest.warns(UserWarning, match="broken.mp4"):
        report = evaluate(tiny_model, split, batch_size=4)
    assert [c.name for c in report.clips] == ["a", "b.mp4"]
    assert [c.n_frames for c in report.clips] == [6, 5]
    assert report.skipped[0]["clip"] == "broken.mp4"
    a = _official_l1(tiny_model, moving_frames(6, 64, seed=1))  # PNG frames are lossless
    b = _official_l1(tiny_model, io.read_video(split / "b.mp4"))
    assert report.clips[0].l1 == pytest.approx(a, abs=2e-5)
    assert report.clips[1].l1 == pytest.approx(b, abs=2e-5)
    assert report.l1 == pytest.approx((a + b) / 2, abs=2e-5)
    assert report.lpips is None and report.lpips_note.startswith("not computed")
    assert report.to_dict()["overall"]["frames"] == 11


def test_split_errors(tmp_path, tiny_model):
    with pytest.raises(EvaluationError, match="no such folder"):
        find_clips(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvaluationError, match="no usable clips"):
        find_clips(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.mp4").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="x.mp4"), pytest.raises(EvaluationError, match="usable"):
        evaluate(tiny_model, tmp_path / "bad")


@pytest.mark.parametrize("kind", ["frame folder", "video"])
def test_an_unreadable_clip_says_why(tmp_path, tiny_model, capsys, kind):
    """A clip that fails while it is read (a corrupt frame in a folder, a video cut short)
    gets its reason, in its "skipped" line or, when no clip is left, in the one error line."""
    root = tmp_path / "test"
    root.mkdir()
    if kind == "frame folder":
        write_png_folder(root / "c1", moving_frames(4, 64))
        (root / "c1" / "0002.png").write_bytes(b"garbage")
        reason = "0002.png: not an image"
    else:
        write_mp4(root / "c1.mp4", moving_frames(30, 64), fps=25)
        data = (root / "c1.mp4").read_bytes()
        (root / "c1.mp4").write_bytes(data[: len(data) * 3 // 4])
        reason = "c1.mp4"
    ckpt = tmp_path / "tiny.safetensors"
    save_model(tiny_model, ckpt)
    argv = ["evaluate", "--checkpoint", str(ckpt), "--data", str(root), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # a video cut short is refused while the split is scanned, a bad frame while it is read
    assert len(err) == 1 and ("skipped c1" in err[0] or "could be read; c1" in err[0]), err
    assert reason in err[0].split("frame(s))")[-1].split("could be read")[-1]
    write_png_folder(root / "good", moving_frames(3, 64))
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert any(line.startswith("skipped c1") and reason in line for line in err.splitlines())


def test_the_split_is_scanned_as_training_scans_it(split):
    """One scan of the FOMM layout (``data.fomm.scan_split``): evaluation keeps one-frame
    clips, which training skips, and lists what it could not read."""
    write_png_folder(split / "single", moving_frames(1, 64))
    (split / "no_frames").mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clips, skipped = find_clips(split)
    assert sorted(str(w.message).split(":")[0] for w in caught) == [
        "skipping broken.mp4",
        "skipping no_frames",
    ]
    assert [(c.path.name, c.n_frames) for c in clips] == [("a", 6), ("b.mp4", 5), ("single", 1)]
    assert [s["clip"] for s in skipped] == ["broken.mp4", "no_frames"]
    with pytest.warns(UserWarning), pytest.raises(EvaluationError, match="does not exist"):
        find_clips(split, dump_dir=split / "missing")


# ---- LPIPS --------------------------------------------------------------------------------------


def _random_lpips_files(tmp_path):
    """Weight files laid out like torchvision's AlexNet and lpips' v0.1 linear layers, filled
    with random numbers (real weights cannot be downloaded here)."""
    g = torch.Generator().manual_seed(0)
    shapes = [(64, 3, 11), (192, 64, 5), (384, 192, 3), (256, 384, 3), (256, 256, 3)]
    alex = {}
    for idx, (o, i, k) in zip((0, 3, 6, 8, 10), shapes, strict=True):
        alex[f"features.{idx}.weight"] = torch.randn(o, i, k, k, generator=g) / (i * k * k) ** 0.5
        alex[f"features.{idx}.bias"] = torch.randn(o, generator=g) * 0.1
    alex["classifier.1.weight"] = torch.zeros(4, 4)  # ignored
    lin = {
        f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=g)
        for k, c in enumerate(CHANNELS)
    }
    torch.save(alex, tmp_path / "alexnet.pth")
    torch.save(lin, tmp_path / "alex_lin.pth")
    return alex, lin


def test_lpips_from_two_files_and_from_one_lpips_state_dict(tmp_path):
    alex, lin = _random_lpips_files(tmp_path)
    metric = LPIPS.from_files(tmp_path / "alexnet.pth", tmp_path / "alex_lin.pth")
    a = torch.rand(3, 3, 64, 64) * 2 - 1
    b = (a + 0.3 * torch.randn_like(a)).clamp(-1, 1)
    d = metric(a, b)
    assert d.shape == (3,) and (d > 0).all()
    assert torch.allclose(metric(a, a), torch.zeros(3), atol=1e-6)
    assert torch.allclose(metric(b, a), d, atol=1e-6)
    assert torch.allclose(metric(a[1:2], b[1:2]), d[1:2], atol=1e-6)  # per sample
    assert (metric(a, a + 0.6 * torch.randn_like(a)) > d).all()  # more noise, larger distance

    # the same weights saved as a whole lpips.LPIPS(net='alex').state_dict()
    slices = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}
    full = {"scaling_layer.shift": torch.zeros(1, 3, 1, 1)}
    for key, value in alex.items():
        if key.startswith("features."):
            idx, kind = key.split(".")[1:]
            full[f"net.slice{slices[int(idx)]}.{idx}.{kind}"] = value
    full.update(lin)
    torch.save(full, tmp_path / "lpips_alex_full.pth")
    same = LPIPS.from_files(tmp_path / "lpips_alex_full.pth")
    assert torch.allclose(same(a, b), d, atol=1e-6)


def test_lpips_bad_weights(tmp_path):
    _random_lpips_files(tmp_path)
    with pytest.raises(LPIPSError, match="linear layers"):
        LPIPS.from_files(tmp_path / "alexnet.pth")
    with pytest.raises(LPIPSError, match="AlexNet backbone"):
        LPIPS.from_files(tmp_path / "alex_lin.pth")
    with pytest.raises(LPIPSError, match="no such"):
        LPIPS.from_files(tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(LPIPSError, match="cannot read"):
        LPIPS.from_files(tmp_path / "junk.pth")
    lin = torch.load(tmp_path / "alex_lin.pth", weights_only=True)
    lin["lin2.model.1.weight"] = torch.zeros(1, 7, 1, 1)
    torch.save(lin, tmp_path / "wrong.pth")
    with pytest.raises(LPIPSError, match="shape"):
        LPIPS.from_files(tmp_path / "alexnet.pth", tmp_path / "wrong.pth")
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"x": object()}, f, protocol=2)  # arbitrary objects are never unpickled
    with pytest.raises(LPIPSError):
        LPIPS.from_files(tmp_path / "evil.pth")


def test_lpips_in_the_report_is_the_mean_over_frames_then_clips(tiny_model, split, tmp_path):
    _random_lpips_files(tmp_path)
    metric = LPIPS.from_files(tmp_path / "alexnet.pth", tmp_path / "alex_lin.pth")
    (split / "broken.mp4").unlink()
    report = evaluate(tiny_model, split, lpips=metric)
    per_clip = []
    for frames in (moving_frames(6, 64, seed=1), io.read_video(split / "b.mp4")):
        x = io.to_tensor(frames)
        with torch.inference_mode():
            recon = torch.cat([_gen(tiny_model, x[:1], x[i : i + 1]) for i in range(len(x))])
            per_clip.append(float(metric(x, recon.clamp(-1, 1)).mean()))
    assert [c.lpips for c in report.clips] == pytest.approx(per_clip, abs=1e-4)
    assert report.lpips == pytest.approx(np.mean(per_clip), abs=1e-4)
    assert report.lpips_note.startswith("computed")


# ---- the command --------------------------------------------------------------------------------


def test_cli_writes_json_csv_and_dumps(tiny_model, split, tmp_path, capsys):
    ckpt = tmp_path / "tiny.safetensors"
    save_model(tiny_model, ckpt)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    argv = ["evaluate", "--checkpoint", str(ckpt), "--data", str(split), "--no-progress"]
    argv += ["--out", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv")]
    argv += ["--dump-videos", str(dumps), "--max-frames", "4"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "LPIPS: not computed" in captured.out
    assert "skipped broken.mp4: " in captured.err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["overall"]["clips"] == 2 and report["overall"]["frames"] == 8
    assert report["overall"]["lpips"] is None and "not computed" in report["overall"]["lpips_note"]
    assert report["skipped"][0]["clip"] == "broken.mp4"
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["clip"] for r in rows] == ["a", "b.mp4", "OVERALL"]
    assert float(rows[-1]["l1"]) == pytest.approx(report["overall"]["l1"], abs=1e-6)
    info = io.video_info(dumps / "a.mp4")
    assert (info.n_frames, info.width, info.height) == (4, 128, 64)


@pytest.mark.parametrize(
    "flag, victim",
    [(f, v) for f in ("--out", "--csv") for v in ("frame", "checkpoint", "data")]
    + [("--dump-videos", "data"), ("--dump-videos", "clip folder")],
)
def test_cli_never_writes_over_an_input(tiny_model, split, tmp_path, capsys, flag, victim):
    ckpt = tmp_path / "tiny.safetensors"
    save_model(tiny_model, ckpt)
    write_mp4(split / "a.mp4", moving_frames(3, 64, seed=3), fps=25)  # beside the folder a/
    target = {
        "frame": split / "a" / "000000.png",
        "clip folder": split / "a",
        "checkpoint": aliases(ckpt, tmp_path / "links")["hard link"],
        "data": split,
    }[victim]
    if flag != "--dump-videos" and target.is_dir():
        target = target / "report.json"  # a new file inside the input folder
    before = {p: p.read_bytes() for p in [*split.rglob("*"), ckpt] if p.is_file()}
    argv = ["evaluate", "--checkpoint", str(ckpt), "--data", str(split), "--no-progress"]
    assert main([*argv, flag, str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("would destroy it" in err[0] or "inside the input folder" in err[0])
    assert {p: p.read_bytes() for p in [*split.rglob("*"), ckpt] if p.is_file()} == before


def test_cli_with_lpips_weights(tiny_model, split, tmp_path, capsys):
    _random_lpips_files(tmp_path)
    ckpt = tmp_path / "tiny.safetensors"
    save_model(tiny_model, ckpt)
    (split / "broken.mp4").unlink()
    argv = ["evaluate", "--checkpoint", str(ckpt), "--data", str(split), "--no-progress"]
    argv += ["--out", str(tmp_path / "r.json"), "--max-frames", "3", "--max-clips", "1"]
    argv += ["--lpips", str(tmp_path / "alexnet.pth"), str(tmp_path / "alex_lin.pth")]
    assert main(argv) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["overall"]["lpips"] > 0 and report["overall"]["clips"] == 1


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--data", "MISSING"], "no such folder"),
        (["--out", "nowhere/r.json"], "does not exist"),
        (["--lpips", "missing_alex.pth"], "no such LPIPS weight file"),
        (["--size", "256"], "size-64"),
    ],
)
def test_cli_bad_input(tiny_model, split, tmp_path, capsys, extra, expected):
    ckpt = tmp_path / "tiny.safetensors"
    save_model(tiny_model, ckpt)
    argv = ["evaluate", "--checkpoint", str(ckpt), "--data", str(split), "--no-progress"]
    extra = [str(tmp_path / e) if e in ("MISSING", "nowhere/r.json") else e for e in extra]
    assert main(argv + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("liaviz evaluate: error:") and expected in err[0]
