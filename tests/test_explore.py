"""The widgets, driven programmatically: sliders, buttons, presets, errors, PCA, reference view."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import ipywidgets as widgets
import numpy as np
import pytest
from plotly.callbacks import Points

from liaviz import analysis as A
from liaviz import io
from liaviz.animate import animate
from liaviz.explore import DirectionExplorer, MagnitudePCA, ReferenceView, load_preset
from liaviz.explore._render import LatestValueRenderer

from ._explore_helpers import clip, portrait, tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture
def explorer(model, tmp_path):
    return DirectionExplorer(
        model, portrait(), driving=clip(8), folder=str(tmp_path / "out"), threaded=False
    )


def _errors(view) -> str:
    return "".join(o.get("text", "") for o in view.output.outputs if o.get("name") == "stderr")


def test_slider_moves_change_the_image(explorer, model):
    first = explorer.image.value
    assert bytes(first).startswith(b"\x89PNG")
    explorer.sliders[2].value = 1.5
    assert explorer.image.value != first
    np.testing.assert_array_equal(
        explorer.current_image, A.edit_image(model, explorer.source, explorer.values())
    )
    assert explorer.values()[2] == pytest.approx(1.5)
    assert "last render" in explorer.status.value and explorer.last_render_s > 0
    explorer.reset_buttons[2].click()
    assert explorer.values()[2] == 0 and explorer.image.value == first


def test_reset_all_and_randomize(explorer):
    first = explorer.image.value
    explorer.randomize_button.click()
    v = explorer.values()
    assert np.abs(v).max() <= 3.0 and np.count_nonzero(v) == len(v)
    assert explorer.image.value != first
    explorer.reset_all_button.click()
    assert not explorer.values().any() and explorer.image.value == first
    np.testing.assert_allclose(explorer.randomize(seed=3), explorer.randomize(seed=3))


def test_slider_range_and_step_are_configurable(model):
    ex = DirectionExplorer(model, portrait(), value_range=(-1, 2), step=0.25, threaded=False)
    s = ex.sliders[0]
    assert (s.min, s.max, s.step) == (-1, 2, 0.25)
    ex.set_values(np.full(model.config.motion_dim, 5.0))
    assert (ex.values() == 2).all()
    assert "clipped" in "".join(o.get("text", "") for o in ex.output.outputs)
    with pytest.raises(A.AnalysisError):
        DirectionExplorer(model, portrait(), value_range=(0.5, 2))


@pytest.mark.parametrize("bad", [(-float("inf"), 3), (-1, float("inf")), (float("nan"), 2)])
def test_slider_range_must_be_finite(model, bad):
    with pytest.raises(A.AnalysisError, match="finite"):
        DirectionExplorer(model, portrait(), value_range=bad, threaded=False)


def test_latest_value_wins_when_threaded(model):
    ex = DirectionExplorer(model, portrait(), threaded=True)
    for k in range(30):
        ex.sliders[0].value = 0.1 * (k + 1)
    assert ex.wait(30)
    r = ex.renderer
    assert r.submitted == 30 and r.rendered < 30
    np.testing.assert_array_equal(ex.current_image, A.edit_image(model, ex.source, ex.values()))


def test_renderer_drops_superseded_requests():
    gate, started, seen = threading.Event(), threading.Event(), []

    def render(x):
        seen.append(x)
        started.set()
        gate.wait(10)

    r = LatestValueRenderer(render, on_error=lambda e: None, threaded=True)
    r.submit(0)
    assert started.wait(10)
    for k in range(1, 6):
        r.submit(k)  # arrive while 0 renders: only the last may run next
    gate.set()
    assert r.wait(10)
    assert seen == [0, 5] and r.submitted == 6 and r.rendered == 2


def test_errors_land_in_the_output_area(explorer):
    explorer.file_name_box.value = "missing"
    explorer.load_preset_button.click()  # no such file: shown, not raised
    assert "no such preset file" in _errors(explorer)
    assert "error" in explorer.status.value
    # a render that fails (here: a corrupted source state) is reported and the widget survives
    explorer.state.features = explorer.state.features[:-1]
    explorer.sliders[0].value = 1.0
    assert "feature maps" in _errors(explorer)
    assert len(explorer.errors) == 2


def test_render_errors_from_the_worker_thread(model):
    ex = DirectionExplorer(model, portrait(), threaded=True)
    ex.state.features = ex.state.features[:-1]
    ex.sliders[1].value = 0.5
    assert ex.wait(30)
    assert "feature maps" in _errors(ex)


def test_presets_round_trip(explorer, model, tmp_path):
    explorer.set_values(np.linspace(-2, 2, model.config.motion_dim))
    explorer.name_boxes[0].value = "jaw"
    explorer.set_order([5, 4, 3, 2, 1, 0])
    explorer.file_name_box.value = "my preset"
    explorer.save_preset_button.click()
    path = tmp_path / "out" / "my_preset.json"
    data = json.loads(path.read_text())
    assert data["format"] == "liaviz-preset" and data["names"][0] == "jaw"
    assert data["order"] == [5, 4, 3, 2, 1, 0]

    other = DirectionExplorer(model, portrait(), folder=str(tmp_path / "out"), threaded=False)
    other.file_name_box.value = "my preset"
    other.load_preset_button.click()
    assert not _errors(other)
    np.testing.assert_allclose(other.values(), explorer.values(), atol=1e-6)
    assert other.names == explorer.names and other.order == explorer.order
    assert [r for r in other.rows_box.children] == [other.rows[i] for i in other.order]
    assert other.image.value == explorer.image.value
    assert load_preset(path, model.config.motion_dim).names[0] == "jaw"

    wrong = dict(data, values=data["values"][:3], names=data["names"][:3])
    del wrong["order"]
    (tmp_path / "out" / "wrong.json").write_text(json.dumps(wrong))
    before = other.values()
    other.file_name_box.value = "wrong"
    other.load_preset_button.click()
    assert "preset has 3 directions, this model has 6" in _errors(other)
    np.testing.assert_array_equal(other.values(), before)


def test_names_are_editable(explorer):
    explorer.name_boxes[3].value = "blink"
    assert explorer.names[3] == "blink"
    assert ("blink", 3) in explorer.sweep_direction.options


def test_export_png_and_sweep(explorer, tmp_path):
    explorer.sliders[1].value = 1.0
    explorer.file_name_box.value = "look"
    explorer.export_png_button.click()
    png = io.read_image(tmp_path / "out" / "look.png")
    np.testing.assert_array_equal(png, explorer.current_image)
    explorer.sweep_direction.value = 4
    explorer.export_sweep_button.click()
    frames = io.read_video(tmp_path / "out" / "look_sweep_d5.gif")
    assert frames.shape == (48, 32, 32, 3)
    assert not _errors(explorer)


def test_take_motion_from_frame(explorer, model):
    explorer.frame_slider.value = 6
    explorer.take_motion_button.click()
    e = A.motion_from_frame(model, explorer.source, explorer.driving_frames[6])
    np.testing.assert_allclose(explorer.values(), np.clip(e, -3, 3), atol=1e-6)


def test_order_by_variance(explorer):
    explorer.order_checkbox.value = True
    expected = A.order_by_variance(explorer.driving_magnitudes()).tolist()
    assert explorer.order == expected
    assert list(explorer.rows_box.children) == [explorer.rows[i] for i in expected]
    assert "σ" in explorer.spread_labels[0].value
    explorer.order_checkbox.value = False
    assert explorer.order == list(range(len(explorer.sliders)))


def test_order_needs_a_video(model):
    ex = DirectionExplorer(model, portrait(), threaded=False)
    assert ex.order_checkbox.disabled
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=(50, 6)) * np.arange(1, 7)
    assert ex.order_by_variance(alpha).tolist() == [5, 4, 3, 2, 1, 0]


def test_edit_then_animate(explorer, model):
    explorer.sliders[0].value = 2.0
    explorer.mode.value = "relative"
    explorer.animate_button.click()
    assert not _errors(explorer)
    expected = np.stack(
        list(animate(model, explorer.state, explorer.driving_frames, edit=explorer.values()))
    )
    np.testing.assert_array_equal(explorer.last_animation, expected)
    plain = np.stack(list(animate(model, explorer.state, explorer.driving_frames)))
    assert not np.array_equal(expected, plain)
    (box,) = explorer.animation_box.children
    video = box.children[0]
    assert isinstance(video, widgets.Video) and len(video.value) > 1000
    assert explorer.progress.value == len(explorer.driving_frames)


def test_reference_view(model):
    view = ReferenceView(model, portrait())
    assert view.reference_image.value != view.reconstruction_image.value
    flows = [w.value for w in view.flow_images]
    view.code.value = "reconstruction"
    assert [w.value for w in view.flow_images] != flows
    assert "32×32" in view.flow_labels[-1].value
    assert view.figure().axes


def test_magnitude_pca(model):
    ex = DirectionExplorer(model, portrait(), threaded=False)
    pca = MagnitudePCA(
        model, {"a": clip(8), "b": clip(6, seed=4)}, portrait(), explorer=ex, threaded=False
    )
    assert [t.name for t in pca.figure.data] == ["a", "b"]
    assert pca.figure.data[0].type == "scatter"
    assert "PC1" in pca.figure.layout.xaxis.title.text

    # a click on point 2 of trace "b" shows frame 2 of video b
    trace = pca.figure.data[1]
    pca._on_click(
        trace, Points(point_inds=[2], xs=[0], ys=[0], trace_name="b", trace_index=1), None
    )
    index = 8 + 2
    assert pca.selected == index and "frame 2" in pca.point_info.value
    assert pca.frame_image.value != pca.recon_image.value

    before = pca.pc_image.value
    pca.pc_sliders[0].value = 2.0
    assert pca.pc_image.value != before
    np.testing.assert_allclose(pca.edit(), A.pcs_to_directions(pca.result, pca.pcs()), atol=1e-6)
    pca.send_to_explorer()
    np.testing.assert_allclose(ex.values(), np.clip(pca.edit(), -3, 3), atol=1e-5)

    pca.color_toggle.value = "time"
    assert np.asarray(pca.figure.data[0].marker.color).shape == (8,)
    pca.dims_toggle.value = "3D"
    assert pca.figure.data[0].type == "scatter3d"
    assert not pca.errors
    assert pca.static_figure().axes


def test_core_modules_do_not_import_widgets():
    code = (
        "import sys, liaviz.analysis, liaviz.explore, liaviz.explore.figures, "
        "liaviz.explore.presets\n"
        "bad = [m for m in ('ipywidgets', 'IPython') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
