"""The widgets, driven programmatically: sliders, ranges, buttons, presets, exports, errors, PCA,
reference view. Expected images and values are computed here from the model's own pieces
(encoder, directions, decoder), not by the explorer's code paths."""

from __future__ import annotations

import io as _io
import json
import subprocess
import sys

import ipywidgets as widgets
import numpy as np
import pytest
from PIL import Image

from liaviz import io
from liaviz.analysis import AnalysisError
from liaviz.analysis.anatomy import analyze_directions, write_anatomy
from liaviz.analysis.edits import loop_values, write_sweep
from liaviz.analysis.presets import load_preset
from liaviz.errors import UserError
from liaviz.explore import DirectionExplorer, ReferenceView
from liaviz.pipelines.animate import animate

from ._explore_helpers import (
    assert_same_image,
    clip,
    expected_edit,
    magnitudes,
    portrait,
    prepared,
    tiny_model,
)
from ._media import aliases, write_mp4

SOURCE = prepared(portrait())  # what the 32 px model sees of the portrait
DRIVING = prepared(clip(8))  # and of the driving clip


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture
def explorer(model, tmp_path):
    return DirectionExplorer(
        model,
        portrait(),
        driving=clip(8),
        folder=str(tmp_path / "out"),
        threaded=False,
        crop="center",  # the random portrait holds no face
        anatomy=None,  # plain d1..dM names (the anatomy's are tested in test_explore_ui.py)
    )


def _errors(view) -> str:
    return view.log_box.text(errors_only=True)


def _log(view) -> str:
    return view.log_box.text()


def _decode_png(data) -> np.ndarray:
    return np.asarray(Image.open(_io.BytesIO(bytes(data))).convert("RGB"))


def test_slider_moves_change_the_image(explorer, model):
    first = explorer.ui.image.value
    assert bytes(first).startswith(b"\x89PNG")
    s = explorer.ui.sliders[2]
    s.value = s.max * 0.8
    assert explorer.ui.image.value != first
    np.testing.assert_array_equal(explorer.source, SOURCE)
    np.testing.assert_array_equal(explorer.driving_frames, DRIVING)
    assert_same_image(explorer.current_image, expected_edit(model, SOURCE, explorer.values()))
    assert "last render" in explorer.status.value and explorer.last_render_s > 0
    explorer.ui.reset_buttons[2].click()
    assert explorer.values()[2] == 0 and explorer.ui.image.value == first


def test_source_shown_beside_the_edit_and_the_difference_map(explorer):
    shown = _decode_png(explorer.ui.source_image.value)
    k = shown.shape[0] // explorer.source.shape[0]
    np.testing.assert_array_equal(shown[::k, ::k], SOURCE)
    text = explorer.ui.info.value + explorer.ui.image_caption.value
    assert "0 = reconstruction" in text
    explorer.ui.diff_toggle.value = True  # at e = 0 nothing changed: the map is uniformly dark
    flat = _decode_png(explorer.ui.image.value)
    assert (flat == flat[0, 0]).all() and flat[0, 0].sum() < 30
    explorer.set_values(explorer.ranges()[:, 1] * 0.9)
    changed = _decode_png(explorer.ui.image.value)
    assert changed.max() > 60 and "reconstruction" in explorer.ui.image_caption.value
    explorer.ui.diff_toggle.value = False
    assert (_decode_png(explorer.ui.image.value) != changed).any()


def test_ranges_cover_every_frame_of_the_driving_clip(explorer, model):
    alpha = magnitudes(model, DRIVING)
    a_s = magnitudes(model, SOURCE[None])[0]
    need = 1.1 * np.maximum(3 * alpha.std(0), np.abs(alpha - a_s).max(0))
    lo, hi = explorer.ranges().T
    assert (hi >= need - 1e-6).all() and (lo <= -need + 1e-6).all()
    assert (hi <= 1.5 * need + 1e-6).all()  # rounded up to a readable bound, not far beyond
    assert "ranges from the data" in explorer.ui.info.value
    # every frame's motion fits: taking it widens nothing
    for t in range(len(explorer.driving_frames)):
        explorer.take_motion_from_frame(t)
    assert not explorer.widened


def test_default_and_given_ranges(model):
    ex = DirectionExplorer(model, portrait(), crop="center", threaded=False)
    assert (ex.ranges() == [-3.0, 3.0]).all() and "default" in ex.ui.info.value
    ex = DirectionExplorer(
        model, portrait(), crop="center", value_range=(-1, 2), step=0.25, threaded=False
    )
    s = ex.ui.sliders[0]
    assert (s.min, s.max, s.step) == (-1, 2, 0.25)
    with pytest.raises(Exception, match="0 strictly inside"):
        DirectionExplorer(model, portrait(), crop="center", value_range=(0.5, 2))


@pytest.mark.parametrize("bad", [(-float("inf"), 3), (-1, float("inf")), (float("nan"), 2)])
def test_slider_range_must_be_finite(model, bad):
    with pytest.raises(AnalysisError, match="finite"):
        DirectionExplorer(model, portrait(), crop="center", value_range=bad, threaded=False)


def test_values_beyond_the_range_widen_the_slider_never_clip(model):
    ex = DirectionExplorer(model, portrait(), crop="center", value_range=(-1, 1), threaded=False)
    v = np.linspace(-5, 5, model.config.motion_dim)
    ex.set_values(v)
    np.testing.assert_allclose(ex.values(), v, atol=ex.ui.sliders[0].step / 2 + 1e-6)
    assert ex.widened == {0, 1, 4, 5}
    assert all("↔" in ex.ui.spread_labels[i].value for i in ex.widened)
    assert "↔" not in ex.ui.spread_labels[2].value and "widened" in _log(ex)
    ex.ui.sliders[2].value = 7.0  # straight on the widget, as code might: widened too
    assert ex.values()[2] == 7.0 and ex.ui.sliders[2].max >= 7.0 and 2 in ex.widened


def test_one_render_per_button_even_when_the_browser_echoes(explorer):
    r = explorer.renderer
    for click in (
        explorer.ui.randomize_button.click,
        explorer.ui.reset_all_button.click,
        explorer.ui.randomize_button.click,
    ):
        before = r.rendered
        click()
        assert r.rendered == before + 1
        # the browser snaps each value to its slider's grid and sends it back: no new render
        for s in explorer.ui.sliders:
            s.value = s.min + round((s.value - s.min) / s.step) * s.step
        assert r.rendered == before + 1


def test_randomize_stays_inside_each_range(explorer):
    first = explorer.ui.image.value
    e = explorer.randomize(seed=3)
    lo, hi = explorer.ranges().T
    assert (e >= lo).all() and (e <= hi).all() and np.count_nonzero(e) >= len(e) - 1
    assert explorer.ui.image.value != first and not explorer.widened
    np.testing.assert_allclose(explorer.randomize(seed=3), e)


def test_layout_shows_every_slider(model):
    ex = DirectionExplorer(tiny_model(motion_dim=20), portrait(), crop="center", threaded=False)
    assert len(ex.ui.rows_box.children) == 20
    assert ex.ui.rows_box.layout.grid_template_columns.startswith("repeat(2,")
    assert not ex.ui.rows_box.layout.max_height and not ex.ui.rows_box.layout.overflow
    small = DirectionExplorer(model, portrait(), crop="center", threaded=False)
    assert small.ui.rows_box.layout.grid_template_columns.startswith("repeat(1,")
    assert small.status.layout.width and small.status.layout.height  # a fixed place


def test_errors_are_one_short_line_in_the_status(explorer, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    explorer.ui.folder_box.value = str(blocker / "sub")
    explorer.ui.export_png_button.click()  # the folder cannot be made: shown, not raised
    assert "cannot use folder" in explorer.status.value and "(at " not in explorer.status.value
    assert "white-space:nowrap" in explorer.status.value
    assert "cannot use folder" in _errors(explorer)
    # a render that fails (here: a corrupted source state) is reported and the widget survives
    explorer.state.features = explorer.state.features[:-1]
    explorer.ui.sliders[0].value = explorer.ui.sliders[0].max / 2
    assert "feature maps" in _errors(explorer)
    assert len(explorer.errors) == 2


def test_render_errors_from_the_worker_thread(model):
    ex = DirectionExplorer(model, portrait(), crop="center", threaded=True)
    ex.state.features = ex.state.features[:-1]
    ex.ui.sliders[1].value = 0.5
    assert ex.wait(30)
    assert "feature maps" in _errors(ex)


def test_presets_round_trip(explorer, model, tmp_path):
    m = model.config.motion_dim
    explorer.set_values(explorer.ranges()[:, 1] * np.linspace(-0.9, 0.9, m))
    explorer.ui.name_boxes[0].value = "jaw"
    explorer.set_order([5, 4, 3, 2, 1, 0])
    explorer.ui.file_name_box.value = "my preset"
    explorer.ui.save_preset_button.click()
    path = tmp_path / "out" / "my_preset.json"
    data = json.loads(path.read_text())
    assert data["format"] == "liaviz-preset" and data["names"][0] == "jaw"
    assert data["order"] == [5, 4, 3, 2, 1, 0]
    assert str(path) in _log(explorer)  # the absolute path

    other = DirectionExplorer(
        model, portrait(), crop="center", folder=str(tmp_path / "out"), threaded=False
    )
    assert other.ui.preset_list.options == ("my_preset",)
    before = other.renderer.rendered
    other.ui.load_preset_button.click()
    assert not _errors(other) and other.renderer.rendered == before + 1
    np.testing.assert_allclose(other.values(), explorer.values(), atol=1e-6)
    assert other.names == explorer.names and other.order == explorer.order
    assert list(other.ui.rows_box.children) == [other.ui.rows[i] for i in other.order]
    assert other.ui.image.value == explorer.ui.image.value
    assert load_preset(path, m).names[0] == "jaw"

    wrong = dict(data, values=data["values"][:3], names=data["names"][:3])
    del wrong["order"]
    (tmp_path / "out" / "wrong.json").write_text(json.dumps(wrong))
    other.files.refresh_presets()
    assert other.ui.preset_list.options == ("my_preset", "wrong")
    before = other.values()
    other.ui.preset_list.value = "wrong"
    other.ui.load_preset_button.click()
    assert "preset has 3 directions, this model has 6" in _errors(other)
    np.testing.assert_array_equal(other.values(), before)


def test_names_given_edited_or_from_a_directions_file(explorer, model, tmp_path):
    explorer.ui.name_boxes[3].value = "blink"
    assert explorer.names[3] == "blink"
    assert ("blink", 3) in explorer.ui.sweep_direction.options
    anatomy = analyze_directions(model, [SOURCE], directions=[1, 5])  # d2 and d6 only
    anatomy.directions[0].label, anatomy.directions[1].label = "yaw", "jaw"
    write_anatomy(anatomy, tmp_path / "directions.json")
    ex = DirectionExplorer(
        model, portrait(), crop="center", names=tmp_path / "directions.json", threaded=False
    )
    assert ex.names == ["d1", "d2: yaw", "d3", "d4", "d5", "d6: jaw"]  # as ``anatomy=`` names them
    assert [b.value for b in ex.ui.name_boxes] == ex.names
    ex = DirectionExplorer(model, portrait(), crop="center", names=list("abcdef"), threaded=False)
    assert ex.names == list("abcdef")


def test_export_png_and_sweep(explorer, model, tmp_path):
    explorer.ui.sliders[1].value = explorer.ui.sliders[1].max / 2
    explorer.ui.file_name_box.value = "look"
    explorer.ui.export_png_button.click()  # default: the display size
    path = tmp_path / "out" / "look.png"
    png = io.read_image(path)
    assert png.shape[:2] == (256, 256)
    expected = expected_edit(model, SOURCE, explorer.values())
    np.testing.assert_array_equal(png, png[::8, ::8].repeat(8, 0).repeat(8, 1))  # nearest
    assert_same_image(png[::8, ::8], expected)
    assert str(path.resolve()) in _log(explorer)
    (preview,) = explorer.ui.export_box.children
    assert str(path.resolve()) in explorer.ui.last_file.value
    assert bytes(preview.value) == path.read_bytes()
    out = explorer.export_png(tmp_path / "model.png", scale=1)
    assert_same_image(io.read_image(out), expected)

    explorer.ui.sweep_direction.value = 4
    explorer.ui.export_size.value = 2
    explorer.ui.export_sweep_button.click()
    frames = io.read_video(tmp_path / "out" / "look_sweep_d5.gif")
    assert frames.shape == (48, 64, 64, 3)
    assert not _errors(explorer)


def test_exports_never_write_over_the_explorers_inputs(model, tmp_path):
    image = io.write_image(tmp_path / "portrait.png", portrait())
    driving = write_mp4(tmp_path / "driving.mp4", clip(4), fps=5)
    explorer = DirectionExplorer(
        model,
        str(image),
        driving=driving,
        folder=str(tmp_path / "out"),
        crop="center",
        threaded=False,
    )
    before = {p: p.read_bytes() for p in (image, driving)}
    link = aliases(driving, tmp_path / "links")["symlink"]
    for target in (driving, link, tmp_path / ".." / tmp_path.name / "driving.mp4"):
        with pytest.raises(UserError, match="would destroy it"):
            explorer.export_sweep(1, target)
    with pytest.raises(UserError, match="would destroy it"):
        explorer.export_png(image)
    with pytest.raises(UserError, match="would destroy it"):
        explorer.save_preset(driving)
    assert {p: p.read_bytes() for p in (image, driving)} == before and link.is_symlink()


def test_sweep_directions_count_from_1(explorer, tmp_path):
    first = explorer.export_sweep(1, tmp_path / "d1.gif")
    expected = write_sweep(
        explorer.model, explorer.state, 0, tmp_path / "ref.gif", loop_values(*explorer.ranges()[0][::-1]),
        12.0, base=explorer.values(), min_size=explorer.model.config.size * explorer.files.export_factor(None),
    )  # fmt: skip
    np.testing.assert_array_equal(io.read_video(first), io.read_video(expected))
    for bad in (0, -1, 7, 2.5, "x"):
        with pytest.raises(AnalysisError, match="directions count from 1|direction numbers"):
            explorer.export_sweep(bad, tmp_path / "bad.gif")
    assert not (tmp_path / "bad.gif").exists()


def test_animate_max_frames_must_be_positive(explorer):
    assert len(explorer.animate(max_frames=3)) == 3
    for bad in (0, -1, 2.5):
        with pytest.raises(AnalysisError, match="max_frames"):
            explorer.animate(max_frames=bad)


def test_take_motion_from_frame(explorer, model):
    explorer.ui.frame_slider.value = 6
    explorer.ui.take_motion_button.click()
    e = magnitudes(model, DRIVING[6:7])[0]
    e = e - magnitudes(model, SOURCE[None])[0]
    steps = np.array([s.step for s in explorer.ui.sliders])
    assert (np.abs(explorer.values() - e) <= steps / 2 + 1e-5).all()


def test_default_order_is_by_importance(explorer, model):
    alpha = magnitudes(model, DRIVING)
    expected = np.argsort(-alpha.std(0), kind="stable").tolist()
    assert explorer.order == expected and explorer.ui.order_dropdown.value == "importance"
    assert list(explorer.ui.rows_box.children) == [explorer.ui.rows[i] for i in expected]
    assert "σ" in explorer.ui.spread_labels[0].value
    explorer.ui.order_dropdown.value = "index"
    assert explorer.order == list(range(len(explorer.ui.sliders)))
    explorer.ui.order_dropdown.value = "importance"
    assert explorer.order == expected


def test_order_without_clips_uses_the_encoder_gain(model):
    ex = DirectionExplorer(model, portrait(), crop="center", threaded=False)
    w = None  # the motion head is linear: its matrix is the product of its layers
    for layer in model.enc.fc:
        lw = layer.weight.detach() * layer.scale
        w = lw if w is None else lw @ w
    gain = w.norm(dim=1).numpy()
    assert ex.order == np.argsort(-gain, kind="stable").tolist()
    assert "encoder gain" in ex.ui.info.value
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=(50, 6)) * np.arange(1, 7)
    assert ex.order_by_variance(alpha).tolist() == [5, 4, 3, 2, 1, 0]


def test_edit_then_animate(explorer, model):
    explorer.ui.sliders[0].value = explorer.ui.sliders[0].max * 0.8
    explorer.ui.mode.value = "relative"
    explorer.ui.animate_button.click()
    assert not _errors(explorer)
    # relative mode (eq. 12) with the edit: A_s + e + (A_t - A_1), decoded from the model's parts
    e = explorer.values()
    alpha = magnitudes(model, DRIVING)
    for t, frame in enumerate(explorer.last_animation):
        assert_same_image(frame, expected_edit(model, SOURCE, e + alpha[t] - alpha[0]))
    plain = np.stack(list(animate(model, explorer.state, explorer.driving_frames)))
    assert np.abs(explorer.last_animation.astype(int) - plain).max() > 1
    (box,) = explorer.ui.animation_box.children
    video = box.children[0]
    assert isinstance(video, widgets.Video) and len(video.value) > 1000
    # the bar counted the frames, then reset for the next run
    assert explorer.ui.progress.max == len(explorer.driving_frames)
    assert explorer.ui.progress.value == 0


def test_reference_view(model):
    view = ReferenceView(model, portrait())
    assert view.reference_image.value != view.reconstruction_image.value
    flows = [w.value for w in view.flow_images]
    view.code.value = "reconstruction"
    assert [w.value for w in view.flow_images] != flows
    assert "32×32" in view.flow_labels[-1].value
    assert view.figure().axes


def test_core_modules_do_not_import_widgets():
    code = (
        "import sys, liaviz.analysis.edits, liaviz.analysis.figures, liaviz.analysis.pca_plots, "
        "liaviz.analysis.ranges, liaviz.analysis.presets, liaviz.demo, liaviz.analysis.anatomy, liaviz.analysis.diagnostics\n"
        "bad = [m for m in ('ipywidgets', 'IPython') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_whole_photo_is_cropped_and_each_edit_can_be_seen_in_it(model):
    import io as stdio

    from PIL import Image

    from liaviz.faces import CropBox

    from ._faces import MONA, photo

    ex = DirectionExplorer(model, photo(320, 200, 150, 40, 120), threaded=False)
    assert not ex.placed.whole and ex.placed.box.iou(CropBox(150, 40, 120)) > 0.8
    assert not ex.ui.photo_toggle.disabled
    crop_view = ex.ui.image.value
    ex.ui.photo_toggle.value = True
    shown = np.asarray(Image.open(stdio.BytesIO(ex.ui.image.value)).convert("RGB"))
    assert ex.ui.image.value != crop_view
    assert shown.shape[0] == shown.shape[1]  # the view keeps its square: the photo letterboxed
    assert (shown[:10] == 255).all() and (shown[-10:] == 255).all()  # 320x200: bands above, below
    # a framed portrait is used whole: there is no larger photo to paste into
    assert DirectionExplorer(model, MONA, threaded=False, anatomy=None).ui.photo_toggle.disabled
