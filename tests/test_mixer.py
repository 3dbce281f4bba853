"""The motion mixer: mute / motion scale in the latent math, `animate`, the CLI and the explorer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from liaviz import io, save_model
from liaviz.analysis.anatomy import analyze_directions, preset_mute, write_anatomy
from liaviz.analysis.mixer import MixerError, mixer_gains
from liaviz.cli import main
from liaviz.pipelines.animate import AnimateError, animate

from ._explore_helpers import clip, portrait, tiny_model

M = 6


@pytest.fixture(scope="module")
def model():
    return tiny_model(32, M)


@pytest.fixture(scope="module")
def source():
    return io.prepare(portrait(40), 32)


@pytest.fixture(scope="module")
def driving():
    return clip(6)


def _run(model, source, driving, **kw) -> np.ndarray:
    return np.stack(list(animate(model, source, driving, **kw)))


@pytest.mark.parametrize(
    "mode, start", [("relative", None), ("relative", "best"), ("absolute", None)]
)
def test_muting_nothing_is_the_plain_run(model, source, driving, mode, start):
    plain = _run(model, source, driving, mode=mode, start=start)
    mixed = _run(model, source, driving, mode=mode, start=start, mute=[], motion_scale=1.0)
    np.testing.assert_array_equal(mixed, plain)
    assert not np.array_equal(plain[0], plain[-1])  # the clip does move the source


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_muting_everything_freezes_on_the_source(model, source, driving, mode):
    frames = _run(model, source, driving, mode=mode, mute=range(1, M + 1))
    with torch.inference_mode():
        state = model.encode_source(io.to_tensor(source[None]))
        still = io.to_uint8(model.decode(state, model.self_latent(state)))[0]
    assert all(np.array_equal(f, still) for f in frames)
    zero = _run(model, source, driving, mode=mode, motion_scale=0.0)
    np.testing.assert_array_equal(zero, frames)


def _codes(model, source, driving):
    with torch.inference_mode():
        state = model.encode_source(io.to_tensor(source[None]))
        alpha = model.encode_motion(io.to_tensor(np.stack([io.prepare(f, 32) for f in driving])))
    return state, alpha


def test_gains_in_the_latent_math(model, source, driving):
    """z by hand, from Q and the magnitudes: a muted direction keeps the source's magnitude."""
    state, alpha = _codes(model, source, driving)
    q = model.directions().detach()
    g = torch.tensor([0.0, 1.0, 0.5, 1.0, 0.0, 2.0])
    with torch.inference_mode():
        rel = model.relative_latent(state, alpha, alpha[0], g)
        absolute = model.absolute_latent(state, alpha, g)
    a_s = state.alpha[0]
    want_rel = state.latent + (a_s + g * (alpha - alpha[0])) @ q.t()
    want_abs = state.latent + (a_s + g * (alpha - a_s)) @ q.t()
    torch.testing.assert_close(rel, want_rel, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(absolute, want_abs, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="one value per direction"):
        model.relative_latent(state, alpha, alpha[0], torch.ones(M + 1))


def test_mute_and_scale_in_animate(model, source, driving):
    state, alpha = _codes(model, source, driving)
    q = model.directions().detach()
    keep = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0]) * 1.5
    with torch.inference_mode():
        z = state.latent + (state.alpha[0] + keep * (alpha - alpha[0])) @ q.t()
        want = io.to_uint8(model.decode(state, z))
    got = _run(model, source, driving, mute=[2, 5], motion_scale=1.5)
    assert np.abs(got.astype(int) - want).max() <= 1  # float rounding at most one level


def test_mixer_gains_checks_its_input():
    assert mixer_gains(4) is None and mixer_gains(4, [], 1.0) is None
    assert mixer_gains(4, [1, 4], 2.0).tolist() == [0.0, 2.0, 2.0, 0.0]
    for bad in ([0], [5], [2.5], ["d2"], [True]):
        with pytest.raises(MixerError):
            mixer_gains(4, bad)
    # a direction's number as text (a command line's) is the number, as for --edit
    assert mixer_gains(4, ["4"]).tolist() == [1.0, 1.0, 1.0, 0.0]
    with pytest.raises(MixerError, match="finite"):
        mixer_gains(4, None, float("inf"))


@pytest.fixture
def files(tmp_path, model, source, driving):
    ckpt = tmp_path / "tiny.safetensors"
    save_model(model, ckpt)
    Image.fromarray(source).save(tmp_path / "face.png")
    with io.VideoWriter(tmp_path / "talk.gif", fps=10) as w:
        w.write_many(driving)
    return tmp_path


def _cli(files, *extra) -> int:
    args = ["animate", "--checkpoint", str(files / "tiny.safetensors")]
    args += ["--source", str(files / "face.png"), "--driving", str(files / "talk.gif")]
    return main([*args, "--out", str(files / "out"), "--no-progress", *extra])


def test_cli_mute_and_motion_scale(files, model):
    source, driving = io.read_image(files / "face.png"), io.read_video(files / "talk.gif")
    assert _cli(files, "--mute", "1,3", "--mute", "6", "--motion-scale", "0.5") == 0
    got = np.stack([io.read_image(p) for p in sorted((files / "out").glob("*.png"))])
    want = _run(model, source, driving, mute=[1, 3, 6], motion_scale=0.5)
    np.testing.assert_array_equal(got, want)


def test_cli_only_pose_uses_the_anatomy_presets(files, model, capsys):
    source, driving = io.read_image(files / "face.png"), io.read_video(files / "talk.gif")
    anatomy = analyze_directions(model, [source])
    write_anatomy(anatomy, files / "directions.json")
    expected = preset_mute(anatomy, "expression")
    assert _cli(files, "--only", "expression", "--anatomy", str(files / "directions.json")) == 0
    assert f"--only expression: muting {', '.join(f'd{i}' for i in expected) or 'none'}" in (
        capsys.readouterr().err
    )
    got = np.stack([io.read_image(p) for p in sorted((files / "out").glob("*.png"))])
    np.testing.assert_array_equal(got, _run(model, source, driving, mute=expected))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--mute", "7"], "cannot mute direction 7"),
        (["--mute", "two"], "--mute expects direction numbers"),
        (["--only", "pose", "--anatomy", "missing.json"], "missing.json"),
    ],
)
def test_cli_mixer_errors(files, capsys, extra, message):
    assert _cli(files, *extra) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (files / "out").exists()


def test_explorer_toggles_and_anatomy_names(model, driving, tmp_path):
    from liaviz.explore import DirectionExplorer

    view = DirectionExplorer(
        model,
        portrait(40),
        driving=driving,
        folder=str(tmp_path),
        threaded=False,
        anatomy=True,
        crop="center",
    )
    anatomy = analyze_directions(model, [view.source])
    assert view.names == [f"d{d.index}: {d.label}" for d in anatomy.directions]
    assert view.ui.anatomy_panel.children[0].value[:4] == b"\x89PNG"  # the figure, folded
    view.ui.sliders[1].value = 1.0
    view.mixer.toggles[0].value = False
    view.mixer.toggles[3].value = False
    view.mixer.scale.value = 0.5
    view.ui.animate_button.click()
    want = _run(model, view.state, view.driving_frames, edit=view.values(), mute=[1, 4],
                motion_scale=0.5)  # fmt: skip
    np.testing.assert_array_equal(view.last_animation, want)
    plain = _run(model, view.state, view.driving_frames, edit=view.values())
    assert not np.array_equal(want, plain)


def test_explorer_presets_set_the_toggles(model, driving, tmp_path):
    from liaviz.explore import DirectionExplorer

    anatomy = analyze_directions(model, [io.prepare(portrait(40), 32)])
    view = DirectionExplorer(
        model,
        portrait(40),
        driving=driving,
        folder=str(tmp_path),
        threaded=False,
        anatomy=anatomy,
        crop="center",
    )
    for keep, button in zip(("pose", "expression"), view.mixer.preset_buttons, strict=True):
        button.click()
        assert view.mixer.mute() == preset_mute(anatomy, keep)
    assert view.mixer.transfer_only(None) == [] and all(t.value for t in view.mixer.toggles)
    assert not view.errors


def test_a_model_without_dictionary_is_refused(source, driving):
    from liaviz import LIA, LIAConfig
    from liaviz.analysis.anatomy import AnatomyError

    config = LIAConfig(size=32, latent_dim=32, motion_dim=6, channel_multiplier=1 / 16,
                       channel_max=32, motion_dictionary=False)  # fmt: skip
    model = LIA(config).eval()
    with pytest.raises(AnimateError, match="motion dictionary"):
        _run(model, source, driving, mute=[1])
    with pytest.raises(AnatomyError, match="motion dictionary"):
        analyze_directions(model, [source])
    assert _run(model, source, driving).shape[0] == len(driving)  # the plain run still works
