"""`liaviz demo`: renders every view headless into a folder with an index.html that shows them."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import warnings
from html import escape
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from plotly.offline import get_plotlyjs

import liaviz
from liaviz import demo, io, save_model
from liaviz.analysis.magnitudes import rank_directions
from liaviz.checkpoints.model import CheckpointError, pretrained_names
from liaviz.cli import main
from liaviz.errors import UserError

from ._explore_helpers import clip, portrait, tiny_model
from ._media import aliases, write_mp4

EXPECTED = {
    "index.html",
    "source.png",
    "reference.png",
    "sweep.png",
    "pca.html",
    "pca_3d.html",
    "plotly.min.js",
    "pca_matplotlib.png",
    "sweep_top1.gif",
    "sweep_top4.gif",
    "animation.mp4",
    "animation.gif",
    "directions.json",
    "directions.png",
}


def _local_links(page: str) -> set[str]:
    """What the page would fetch or link beside itself (data URIs and in-page anchors are its own)."""
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)  # plotly.js holds "src=" too
    return {
        m
        for m in re.findall(r'(?:src|href)="([^"]+)"', markup)
        if not m.startswith(("http", "#", "data:"))
    }


def test_demo_defaults(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "6"]) == 0
    printed = capsys.readouterr()
    names = {p.name for p in out.iterdir()}
    assert EXPECTED <= names
    assert not [n for n in names if n.startswith(".")]  # atomic writes leave no temp files
    assert "[9/9]" in printed.out
    if "pca.png" not in names:
        assert "pca.png skipped" in printed.out
    page = (out / "index.html").read_text()
    assert _local_links(page) == set()  # one file: everything it shows is inside it
    # its pictures stay small (inline WebP, not the 1 MB GIFs beside it): the rest is plotly.js
    assert len(page.encode()) - len(get_plotlyjs().encode()) < 1_000_000
    labels = [d["label"] for d in json.loads((out / "directions.json").read_text())["directions"]]
    assert len(labels) == 20 and f"d1: {escape(labels[0])}" in page  # labels name the rows
    assert Image.open(out / "sweep.png").size[1] > Image.open(out / "sweep.png").size[0]  # 20 rows
    anim = io.read_video(out / "animation.gif")
    assert anim.shape[0] == 6 and anim.shape[2] == 2 * anim.shape[1]  # driving | result
    # the embedded model on the Mona Lisa: its card rendered on the page, and what to expect
    if demo.EMBEDDED_MODEL in pretrained_names():
        assert (out / "model_card.md").is_file()
        card = page[page.index('id="model-card"') :]
        assert "<table>" in card and "<h2>How it was made</h2>" in card  # HTML, not Markdown
        assert "|---|" not in card and "## How it was made" not in card
        assert "synthetic cartoon" in page
    assert io.read_video(out / "sweep_top1.gif").shape[1] >= 256  # shown large
    # the astronaut photo: its face animated in place, the photo around it untouched
    assert {"photo.gif", "photo.mp4"} <= names
    assert "face crop [" in printed.out
    photo = io.read_video(out / "photo.mp4")
    assert photo.shape[1:3] == demo.sample_photo().shape[:2]
    moving = np.abs(photo[0].astype(int) - photo).max(axis=(0, 3)) > 40  # where frames differ
    ys, xs = np.nonzero(moving)
    assert 100 <= xs.mean() <= 400 and ys.mean() < 256  # around the face, in the upper half


@pytest.mark.parametrize("alias", ["same", "symlink", "hard link"])
@pytest.mark.parametrize("flag, name", [("--image", "source.png"), ("--driving", "animation.mp4")])
def test_demo_never_writes_over_an_input(tmp_path, capsys, alias, flag, name):
    """An input named like a file the demo writes, in its --out folder, as itself or by another
    name: refused before anything is written there."""
    kept = tmp_path / "mine" / name
    kept.parent.mkdir()
    if name.endswith(".png"):
        io.write_image(kept, portrait())
    else:
        write_mp4(kept, clip(4), fps=5)
    out = tmp_path / "out"
    if alias == "same":
        out, given = kept.parent, kept
    else:
        given = aliases(kept, out)[alias].rename(out / name)
    before = sorted(p.name for p in out.iterdir())
    assert main(["demo", "--out", str(out), flag, str(given), "--frames", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would destroy it" in err[0]
    assert sorted(p.name for p in out.iterdir()) == before
    assert (given.is_symlink(), os.path.samefile(given, kept)) == (alias == "symlink", True)


def test_demo_orders_directions_by_importance(tmp_path):
    """The top directions, and the sweep grid's rows, are the ones that vary most over the
    clips (the spread of their magnitudes, computed here from the encoder's motion head)."""
    import torch

    model = tiny_model(motion_dim=6)
    ckpt = tmp_path / "tiny.safetensors"
    save_model(model, ckpt)
    videos = [tmp_path / f"talk{i}.gif" for i in range(2)]
    for i, v in enumerate(videos):
        with io.VideoWriter(v, fps=10) as w:
            w.write_many(clip(5, seed=i))
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--checkpoint", str(ckpt), "--top", "2"]
    assert main([*args, "--driving", str(videos[0]), "--driving", str(videos[1])]) == 0
    frames = np.stack([io.prepare(f, 32) for v in videos for f in io.read_video(v)])
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.inference_mode():
        alpha = model.enc.fc(model.enc.net_app(x)[0]).numpy()
    first, second = np.argsort(-alpha.std(0), kind="stable")[:2]
    page = (out / "index.html").read_text()
    assert page.index(f"#1 d{first + 1}:") < page.index(f"#2 d{second + 1}:")
    assert "No model card" in page and "synthetic cartoon" not in page
    sweep = io.read_video(out / "sweep_top1.gif")
    assert not np.array_equal(sweep[0], sweep[6])  # it moves


def test_demo_with_user_files(tmp_path):
    ckpt = tmp_path / "tiny.safetensors"
    save_model(tiny_model(), ckpt)
    face = tmp_path / "face.png"
    Image.fromarray(portrait(40)).save(face)
    videos = []
    for i in range(2):
        videos.append(tmp_path / f"talk{i}.gif")
        with io.VideoWriter(videos[-1], fps=10) as w:
            w.write_many(clip(5, seed=i))
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--checkpoint", str(ckpt), "--image", str(face)]
    for v in videos:
        args += ["--driving", str(v)]
    assert main(args) == 0
    assert EXPECTED <= {p.name for p in out.iterdir()}
    source = io.read_image(out / "source.png")
    np.testing.assert_array_equal(source, io.prepare(portrait(40), 32))
    html = (out / "pca.html").read_text()
    assert "talk0" in html and "talk1" in html
    assert "tiny.safetensors" in (out / "index.html").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frames", "1"], "argument --frames: the value must be from 2"),
        (["--image", "no-such.png"], "no-such.png: no such file"),
        (["--checkpoint", "no-such.pt"], "no-such.pt: no such file"),
    ],
)
def test_demo_bad_input_is_one_line(tmp_path, capsys, args, message):
    assert main(["demo", "--out", str(tmp_path / "d"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("liaviz demo: error: ") and message in err[-1]


def test_demo_model_stand_in_warns(tmp_path):
    with pytest.warns(UserWarning, match="RANDOM weights"):
        model, message = demo.load_demo_model(default="no-such-bundled-model")
    assert "RANDOM" in message and model.config.size == 64 and not model.training
    tiny = tiny_model()
    save_model(tiny, tmp_path / "tiny.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded, message = demo.load_demo_model(tmp_path / "tiny.safetensors")
    assert message is None and loaded.config == tiny.config
    with pytest.raises(CheckpointError):
        demo.load_demo_model(tmp_path / "missing.pt")


def test_sample_media():
    face = demo.sample_portrait()
    assert face.shape == (256, 256, 3) and face.dtype == np.uint8
    # the Mona Lisa ships inside the package, with its provenance
    assets = Path(liaviz.__file__).parent / "assets"
    assert demo.SAMPLE_PORTRAIT.parent == assets
    assert "public domain" in (assets / "README.md").read_text()
    frames = demo.sample_driving(32, n_frames=3)
    assert frames.shape == (3, 32, 32, 3)
    assert not np.array_equal(frames[0], frames[2])


def test_demo_imports_no_jupyter_package(tmp_path):
    """``liaviz demo`` is the headless core: neither it nor what it uses imports a widget or
    Jupyter package (its run() imports everything it needs before it checks --frames)."""
    check = (
        "import sys\n"
        "from liaviz.cli import main\n"
        f"assert main(['demo', '--out', {str(tmp_path / 'd')!r}, '--frames', '1']) == 2\n"
        "import liaviz.analysis.anatomy, liaviz.analysis.diagnostics, liaviz.analysis.pca_plots, liaviz.analysis.presets\n"
        "bad = [m for m in ('ipywidgets', 'anywidget', 'IPython', 'jupyterlab', 'notebook')\n"
        "       if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", check], check=True)


def _inline_images(page: str, alt: str) -> list[np.ndarray]:
    """The pictures the page carries inline with this ``alt``, decoded."""
    found = re.findall(rf'src="data:image/\w+;base64,([^"]+)"[^>]*alt="{re.escape(alt)}"', page)
    return [np.asarray(Image.open(BytesIO(base64.b64decode(b))).convert("RGB")) for b in found]


def _grey(image: np.ndarray) -> np.ndarray:
    return image.astype(float).mean(-1).ravel()


def test_build_from_python(tmp_path):
    """``liaviz.demo.build`` from Python, with arrays: a self-contained page whose rows follow
    the spread of the given clips' magnitudes (computed here from the encoder's motion head),
    each named by the anatomy of the portrait shown, its heat map drawn on that portrait."""
    import torch

    from liaviz.analysis.anatomy import analyze_directions, default_images, direction_names

    model = tiny_model(motion_dim=6)
    face = portrait(40, seed=3)
    videos = {"left": clip(5, seed=0), "right": clip(5, seed=1)}
    result = demo.build(model, tmp_path / "demo", image=face, driving=videos, frames=5, top=2)

    assert result.index == tmp_path / "demo" / "index.html"
    assert set(demo.DEMO_FILES) - {"model_card.md", "pca.png"} <= set(result.files)
    page = result.index.read_text()
    assert _local_links(page) == set()
    frames = np.stack([io.prepare(f, 32) for v in videos.values() for f in v])
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.inference_mode():
        alpha = model.enc.fc(model.enc.net_app(x)[0]).numpy()
    assert result.order == [int(i) for i in np.argsort(-alpha.std(0), kind="stable")]
    np.testing.assert_allclose(result.importance, alpha.std(0), rtol=1e-3, atol=1e-5)
    assert (
        result.importance_basis
        == rank_directions(model, alpha, "2 clips (10 frames: left, right)").label
    )
    assert escape(result.importance_basis) in page
    # named on the portrait shown (not on synthetic faces), rows in importance order
    shown = io.read_image(tmp_path / "demo" / "source.png")
    np.testing.assert_array_equal(shown, io.prepare(face, 32))
    assert result.names == direction_names(analyze_directions(model, [shown]), 6)
    rows = [page.index(f"class=name><b>{escape(result.names[d])}</b>") for d in result.order]
    assert rows == sorted(rows)
    assert page.index("<b>#1 ") < page.index("<b>#2 ") and "<b>#3 " not in page
    # heat maps over the portrait: they follow its greys, not a synthetic face's
    heat = _inline_images(page, "heat map")
    assert len(heat) == 6 and heat[0].shape == shown.shape
    synthetic = default_images(32, n=1)[0]
    follows_portrait = np.corrcoef(_grey(heat[0]), _grey(shown))[0, 1]
    assert follows_portrait > 0.6
    assert follows_portrait > np.corrcoef(_grey(heat[0]), _grey(synthetic))[0, 1] + 0.2
    assert "No model card for this checkpoint" in page


def test_build_never_writes_over_an_input(tmp_path):
    """Called from Python too, ``build`` refuses an output that is one of its inputs, before it
    writes anything."""
    out = tmp_path / "demo"
    out.mkdir()
    given = out / "source.png"
    io.write_image(given, portrait())
    before = given.read_bytes()
    with pytest.raises(UserError, match="would destroy it"):
        demo.build(tiny_model(), out, image=given, frames=4)
    assert [p.name for p in out.iterdir()] == ["source.png"] and given.read_bytes() == before
