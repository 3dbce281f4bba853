"""`liaviz directions` and the direction diagnostics (orthonormality, usage, magnitude plot);
the README's `liaviz directions` and mixer lines run as written."""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pytest
import torch
from PIL import Image

import liaviz
from liaviz import io
from liaviz.analysis.diagnostics import magnitudes_figure, orthonormality_error
from liaviz.analysis.magnitudes import MagnitudeSet
from liaviz.cli import main
from liaviz.demo import EMBEDDED_MODEL, sample_driving

from ._media import aliases
from .conftest import REPO

README = (REPO / "README.md").read_text()


def _readme_lines(prefix: str) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    lines = [ln.split("#")[0].strip() for b in blocks for ln in b.splitlines()]
    return [ln for ln in lines if ln.startswith(prefix)]


def test_readme_directions_command(tmp_path, monkeypatch, capsys):
    (line,) = _readme_lines("liaviz directions")
    monkeypatch.chdir(tmp_path)
    assert main([*shlex.split(line)[1:], "--frames", "6"]) == 0
    out = tmp_path / shlex.split(line)[shlex.split(line).index("--out") + 1]
    data = json.loads((out / "directions.json").read_text())
    dirs = data["directions"]
    assert [d["index"] for d in dirs] == list(range(1, 21))
    for d in dirs:
        assert sum(d["global"].values()) + d["local"] == pytest.approx(1.0, abs=2e-3)
        x0, y0, x1, y1 = d["region"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert d["label"]
    # usage is the variance of the magnitudes over the clips, computed here independently
    model = liaviz.load_model(EMBEDDED_MODEL)
    clips = [sample_driving(64, 6, i) for i in range(2)]
    with torch.inference_mode():
        alpha = torch.cat([model.encode_motion(io.to_tensor(c)) for c in clips]).numpy()
    usage = np.array(data["diagnostics"]["usage"])
    np.testing.assert_allclose(usage, alpha.astype(np.float64).var(0), rtol=1e-3, atol=1e-6)
    assert data["diagnostics"]["orthonormality_error"] < 1e-5
    for name in ("directions.png", "magnitudes.png"):
        assert Image.open(out / name).size[0] > 300
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 21 and table[1].split()[1] == dirs[0]["label"].split()[0]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--portrait", "missing.png"], "missing.png"),
        (["--frames", "1"], "argument --frames: the value must be from 2"),
        (["--step", "0"], "--step must be positive"),
    ],
)
def test_directions_command_errors(tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    assert main(["directions", EMBEDDED_MODEL, "--out", "d", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("alias", ["same", "symlink", "hard link"])
@pytest.mark.parametrize("name", ["directions.png", "magnitudes.png", "directions.json"])
def test_directions_never_writes_over_an_input(tmp_path, capsys, alias, name):
    kept = tmp_path / "mine" / name
    kept.parent.mkdir()
    Image.fromarray(sample_driving(64, 1)[0]).save(kept, format="PNG")
    out = tmp_path / "dirs"
    if alias == "same":
        out, given = kept.parent, kept
    else:
        given = aliases(kept, out)[alias].rename(out / name)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["directions", EMBEDDED_MODEL, "--out", str(out), "--portrait", str(given)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would destroy it" in err[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert given.is_symlink() == (alias == "symlink")


@pytest.mark.parametrize("extra", [["--step", "1e39"], ["--step", "inf"], ["--device", "meta"]])
def test_directions_numbers_and_devices_out_of_range_exit_2(tmp_path, monkeypatch, capsys, extra):
    monkeypatch.chdir(tmp_path)
    try:
        rc = main(["directions", EMBEDDED_MODEL, "--out", "d", "--frames", "2", *extra])
    except SystemExit as e:  # argparse's usage error, naming the flag
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and extra[0] in err.strip().splitlines()[-1]
    assert not (tmp_path / "d").exists()


def test_readme_mixer_lines(tmp_path, monkeypatch):
    lines = _readme_lines("liaviz animate --checkpoint embedded")
    assert len(lines) >= 2
    monkeypatch.chdir(tmp_path)
    Image.fromarray(sample_driving(64, 1)[0]).save(tmp_path / "face.png")
    with io.VideoWriter(tmp_path / "talk.gif", fps=10) as w:
        w.write_many(sample_driving(64, 6, 1))
    for line in lines:
        assert main([*shlex.split(line)[1:], "--no-progress"]) == 0, line


def test_orthonormality_error_measures_q(monkeypatch):
    model = liaviz.load_model(EMBEDDED_MODEL)
    assert orthonormality_error(model) < 1e-5
    q = torch.eye(8)[:, :4]
    q[0, 0] = 1.1  # |d_1|^2 = 1.21
    q[5, 1] = 0.2  # d_2 . d_3 = 0 still, |d_2|^2 = 1.04
    monkeypatch.setattr(model, "directions", lambda: q)
    assert orthonormality_error(model) == pytest.approx(0.21)


def test_magnitudes_figure_draws_every_direction():
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=(10, 5)) * np.array([3, 1, 2, 0.1, 0.5])
    mags = MagnitudeSet(
        alpha.astype(np.float32), np.repeat([0, 1], 5), np.tile(np.arange(5), 2), ["a", "b"]
    )
    fig = magnitudes_figure(mags, top=2)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    assert all(len(ax.lines) == 5 for ax in axes)
    named = [line.get_label() for line in axes[0].lines if not line.get_label().startswith("_")]
    assert sorted(named) == ["d1", "d3"]  # the two most used
