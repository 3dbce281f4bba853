"""The explorer as a user meets it (issue 25): names from the anatomy, one importance order in
every view, messages beside their controls, reserved places, typed values that widen, the mixer
in the caption, uploads and the gallery; and bad arguments as one-line errors (issue 24).
Expected values are computed here from the model and the library's measures, not read back from
the widgets under test."""

from __future__ import annotations

import datetime
import io as _io

import numpy as np
import pytest
from PIL import Image
from plotly.callbacks import Points

from liaviz import io
from liaviz.analysis.anatomy import analyze_directions, direction_names, load_anatomy, write_anatomy
from liaviz.analysis.magnitudes import video_magnitudes
from liaviz.analysis.presets import load_preset
from liaviz.errors import UserError
from liaviz.explore import DirectionExplorer, MagnitudePCA, ReferenceView
from liaviz.pipelines.animate import animate

from ._explore_helpers import clip, magnitudes, portrait, prepared, tiny_model
from ._media import write_mp4


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def _explorer(model, tmp_path, **kw):
    kw = {"driving": clip(8), "anatomy": None, **kw}
    return DirectionExplorer(
        model, portrait(), folder=str(tmp_path / "out"), threaded=False, crop="center", **kw
    )


def test_names_come_from_the_anatomy_of_the_portrait_shown(model, tmp_path):
    ex = _explorer(model, tmp_path, anatomy="auto")
    want = direction_names(analyze_directions(model, [ex.source]), model.config.motion_dim)
    assert ex.names == want and all(": " in n for n in want)
    assert [b.value for b in ex.ui.name_boxes] == want
    assert [t.description for t in ex.mixer.toggles] == want  # the mixer says them too
    assert sorted(label for label, _ in ex.ui.sweep_direction.options) == sorted(want)
    # the name box spans the row: the longest name fits (7 px a character at 13 px)
    assert int(ex.ui.name_boxes[0].layout.width[:-2]) >= 7 * max(map(len, want))


def test_a_rename_saves_with_presets_and_exports_as_directions_json(model, tmp_path):
    ex = _explorer(model, tmp_path, anatomy=True)
    ex.ui.name_boxes[2].value = "d3: head turn left-right"
    assert ex.mixer.toggles[2].description == "d3: head turn left-right"
    preset = load_preset(ex.save_preset(), model.config.motion_dim)
    assert preset.names[2] == "d3: head turn left-right"
    out = ex.export_names()
    assert out.name == "directions.json"
    assert direction_names(load_anatomy(out), 6)[2] == "d3: head turn left-right"
    # and it names another explorer's sliders
    assert _explorer(model, tmp_path, names=str(out)).names[2] == "d3: head turn left-right"


def test_one_importance_order_in_every_view(model, tmp_path):
    clips = {"one": clip(8), "two": clip(8, seed=5)}
    mags = video_magnitudes(model, clips, keep_frames=True)
    ex = _explorer(model, tmp_path, order_by=mags)
    # the spread of each magnitude over both clips, from the model's own encoder
    frames = [io.prepare(f, 32) for f in [*clips["one"], *clips["two"]]]
    want = np.argsort(-magnitudes(model, np.stack(frames)).std(0), kind="stable").tolist()
    assert ex.order == want
    assert list(ex.ui.rows_box.children) == [ex.ui.rows[i] for i in want]
    assert list(ex.mixer.toggle_box.children) == [ex.mixer.toggles[i] for i in want]
    assert [i for _, i in ex.ui.sweep_direction.options] == want
    assert "2 clips" in ex.ranking.label and "2 clips" in ex.ui.info.value
    pca = MagnitudePCA(model, mags, portrait(), explorer=ex, threaded=False)
    shown = [n for n in ex.names if f">{n}<" in pca.mapping.value]
    assert sorted(shown, key=pca.mapping.value.index) == [ex.names[i] for i in want]


def test_a_typed_value_widens_the_range_and_arrows_step_1_percent(model, tmp_path):
    ex = _explorer(model, tmp_path)
    s = ex.ui.sliders[0]
    lo, hi = s.min, s.max
    assert 0.004 < s.step / (hi - lo) <= 0.01 + 1e-9  # an arrow key: at most 1% of the range
    typed = round(3 * hi, 2)
    ex.ui.value_boxes[0].value = typed  # what the browser sends when 3x the end is typed
    assert ex.values()[0] == pytest.approx(typed, abs=1e-6) and s.max >= typed
    assert 0 in ex.widened and "↔" in ex.ui.spread_labels[0].value
    assert (s.min, s.max) != (lo, hi) and not ex.errors


def test_a_widened_slider_sends_its_range_before_its_value(model, tmp_path):
    """The browser applies a message's changes in order: a value ahead of its widened range was
    clipped to the old one there (a typed 12 came back as 2 under load)."""
    s = _explorer(model, tmp_path).ui.sliders[0]
    assert list(s.get_state(key=["value", "max", "min", "step"])) == ["max", "min", "step", "value"]


def test_one_values_call_per_slider_event(model, tmp_path):
    ex = _explorer(model, tmp_path)
    calls = []
    values = ex.values
    ex.values = lambda: calls.append(1) or values()  # counts, then does the real work
    ex.ui.sliders[1].value = ex.ui.sliders[1].max / 2
    assert len(calls) == 1


def test_errors_show_beside_their_control_and_leave_no_stale_file(model, tmp_path):
    ex = _explorer(model, tmp_path)
    ex.ui.export_png_button.click()
    good = tmp_path / "out" / "edit.png"
    assert str(good) in ex.ui.last_file.value and "saved image" in ex.ui.files_message.value
    ex.ui.folder_box.value = "/proc/nope"
    ex.ui.export_png_button.click()
    assert "error" in ex.ui.files_message.value and "/proc/nope" in ex.ui.files_message.value
    assert str(good) not in ex.ui.last_file.value  # the failed write left no old path behind
    assert "error" in ex.status.value
    assert "error" in ex.log_box.widget.value and "overflow-y:auto" in ex.log_box.widget.value


def test_reserved_places_keep_their_size(model, tmp_path):
    ex = _explorer(model, tmp_path)
    box, player = ex.ui.export_box.layout, ex.ui.animation_box.layout
    sizes = (box.width, box.height, player.width, player.height)
    assert all(v and v.endswith("px") for v in sizes)
    ex.export_png()
    ex.animate(max_frames=3)
    assert (box.width, box.height, player.width, player.height) == sizes


def test_animate_caption_lists_the_mixer_and_refuses_negative_scales(model, tmp_path):
    ex = _explorer(model, tmp_path)
    ex.mixer.toggles[1].value = False
    ex.mixer.scale.value = 0.5
    ex.ui.animate_button.click()
    caption = ex.ui.animation_box.children[0].children[1].value
    assert ex.names[1] in caption and "×0.5" in caption
    assert ex.ui.progress.value == 0  # reset for the next run
    before = ex.last_animation
    ex.mixer.scale.value = -2
    ex.ui.animate_button.click()
    assert "motion ×" in ex.ui.animate_message.value and "error" in ex.ui.animate_message.value
    assert ex.last_animation is before
    # mute as text, as typed: the same run as the list
    text = ex.animate(max_frames=3, mute="1,2", motion_scale=1.0)
    want = np.stack(list(animate(model, ex.state, ex.driving_frames[:3], edit=ex.values(),
                                 mute=[1, 2])))  # fmt: skip
    np.testing.assert_array_equal(text, want)


def _upload(name: str, data: bytes) -> tuple[dict, ...]:
    now = datetime.datetime.now(datetime.timezone.utc)
    return ({"name": name, "type": "", "size": len(data), "content": memoryview(data),
             "last_modified": now},)  # fmt: skip


def test_uploads_change_the_portrait_and_the_clip(model, tmp_path):
    ex = _explorer(model, tmp_path, driving=None)
    assert ex.ui.animate_button.disabled
    other = portrait(seed=7)
    buf = _io.BytesIO()
    Image.fromarray(other).save(buf, format="PNG")
    ex.ui.portrait_upload.value = _upload("me.png", buf.getvalue())
    np.testing.assert_array_equal(ex.source, prepared(other))
    assert "new portrait" in ex.ui.inputs_message.value
    video = write_mp4(tmp_path / "talk.mp4", clip(6))
    ex.ui.driving_upload.value = _upload("talk.mp4", video.read_bytes())
    assert len(ex.driving_frames) == 6 and not ex.ui.animate_button.disabled
    assert ex.range_source == "data" and "driving clip (6 frames)" in ex.ranking.label
    assert not ex.errors


def test_the_gallery_opens_an_example_with_its_settings(model, tmp_path):
    ex = _explorer(model, tmp_path)
    ex.ui.gallery_buttons[0].click()  # the Mona Lisa
    from liaviz.demo import sample_portrait
    from liaviz.io import prepare

    assert np.abs(ex.source.astype(int) - prepare(sample_portrait(), 32)).mean() < 8
    assert ex.values()[ex.order[0]] > 0 and "example: Mona Lisa" in ex.ui.inputs_message.value


def test_pca_title_hover_and_3d_clips(model):
    pca = MagnitudePCA(model, {"a": clip(8), "b": clip(6, seed=4)}, dims=3, threaded=False)
    title = pca.figure.layout.title.text
    assert "PC1" in title and "PC3" in title and "PC4" not in title
    assert len({t.marker.symbol for t in pca.figure.data[:2]}) == 2  # each clip its symbol
    assert "time" in pca.figure.data[0].hovertemplate and "top directions" in (
        pca.figure.data[0].hovertemplate
    )
    assert pca.figure.data[0].text[0].count("σ") == 3
    pca.dims_toggle.value = "2D"
    assert "PC3" not in pca.figure.layout.title.text


def test_reference_view_labels_scale_and_pixels(model):
    view = ReferenceView(model, portrait())
    html = view.widget.children[2]
    text = str([w.value for w in html.children[0].children]) + html.children[-1].value
    assert "flow" in text and "mask" in text and "0: generated" in text
    assert all(" px (of " in lab.value for lab in view.flow_labels)


@pytest.mark.parametrize(
    "kwargs",
    [{"display_size": 100000}, {"display_size": 0}, {"display_size": -5}, {"order_by": np.ones(5)},
     {"order_by": np.ones((3, 5))}, {"anatomy": 3}],
)  # fmt: skip
def test_bad_explorer_arguments_are_one_line_errors(model, tmp_path, kwargs):
    with pytest.raises(UserError) as e:
        _explorer(model, tmp_path, **kwargs)
    assert "\n" not in str(e.value)


def test_bad_calls_are_one_line_errors(model, tmp_path):
    ex = _explorer(model, tmp_path)
    for call, words in [
        (lambda: ex.export_png(scale=1e6), "scale"),
        (lambda: ex.export_png(tmp_path), "is a folder"),
        (lambda: ex.reset(99), "99"),
        (lambda: ex.animate(mute="1,x"), "mute"),
    ]:
        with pytest.raises(UserError, match=words):
            call()
    for kwargs in ({"dims": 4}, {"color": "x"}):
        with pytest.raises(UserError):
            MagnitudePCA(model, {"a": clip(8)}, threaded=False, **kwargs)


def test_anatomy_as_a_path(model, tmp_path):
    anatomy = analyze_directions(model, [prepared(portrait())])
    path = write_anatomy(anatomy, tmp_path / "directions.json")
    ex = _explorer(model, tmp_path, anatomy=str(path))
    assert ex.names == direction_names(anatomy, 6)


def test_magnitude_pca(model):
    ex = DirectionExplorer(model, portrait(), crop="center", threaded=False, anatomy=None)
    pca = MagnitudePCA(
        model, {"a": clip(8), "b": clip(6, seed=4)}, portrait(), explorer=ex, threaded=False
    )
    # one trace per clip, and the ring around the shown point (frame 0 at first)
    assert [t.name for t in pca.figure.data] == ["a", "b", "selected"]
    assert pca.figure.data[0].type == "scatter"
    assert [len(t.x) for t in pca.figure.data] == [8, 6, 1]
    assert "PC1" in pca.figure.layout.xaxis.title.text

    # a click on point 2 of trace "b" shows frame 2 of video b
    trace = pca.figure.data[1]
    pca._on_click(
        trace, Points(point_inds=[2], xs=[0], ys=[0], trace_name="b", trace_index=1), None
    )
    index = 8 + 2
    assert pca.selected == index and "frame 2" in pca.point_info.value
    ring = pca.figure.data[-1]  # the clicked point is ringed
    assert (ring.x[0], ring.y[0]) == tuple(pca.result.scores[index, :2].astype(float))
    assert pca.frame_image.value != pca.recon_image.value

    before = pca.pc_image.value
    pca.pc_sliders[0].value = 2.0
    pca.pc_sliders[1].value = -1.0
    assert pca.pc_image.value != before
    # the PC edit in the d_i basis, from an SVD of the magnitudes written out here
    frames = [io.prepare(f, model.config.size) for f in [*clip(8), *clip(6, seed=4)]]
    a = magnitudes(model, np.stack(frames))
    a = a.astype(np.float64) - a.mean(0)
    _, sv, vt = np.linalg.svd(a, full_matrices=False)
    std = sv / np.sqrt(len(a) - 1)
    signs = np.sign((vt[:2] * pca.result.components[:2]).sum(1))  # PCA axes have no sign
    expected = (np.array([2.0, -1.0]) * std[:2] * signs) @ vt[:2]
    np.testing.assert_allclose(pca.edit(), expected, atol=1e-4)
    pca.send_to_explorer()  # nothing clipped: the explorer shows the same edit
    steps = np.array([s.step for s in ex.ui.sliders])
    assert (np.abs(ex.values() - pca.edit()) <= steps / 2 + 1e-5).all()

    pca.color_toggle.value = "time"
    assert np.asarray(pca.figure.data[0].marker.color).shape == (8,)
    pca.dims_toggle.value = "3D"
    assert pca.figure.data[0].type == "scatter3d"
    assert not pca.errors
    assert pca.static_figure().axes
