"""The explorer's rendering: newest value wins, previews from a coarser decoder level while values
keep coming, the full image when they rest. Expected images come from the model's own parts."""

from __future__ import annotations

import threading

import pytest
import torch

from liaviz.explore import DirectionExplorer
from liaviz.explore._render import LatestValueRenderer

from ._explore_helpers import assert_same_image, expected_edit, portrait, tiny_model, uint8


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def test_preview_while_values_come_then_full_render_on_rest():
    gate, started, seen = threading.Event(), threading.Event(), []

    def preview(x):
        seen.append(("preview", x))
        started.set()
        gate.wait(10)

    r = LatestValueRenderer(
        lambda x: seen.append(("full", x)), lambda e: None, preview=preview, rest_s=0.05
    )
    r.submit(0)
    assert started.wait(10)
    for k in range(1, 6):
        r.submit(k)  # arrive while 0 previews: only the newest is previewed next
    gate.set()
    assert r.wait(10)
    assert seen == [("preview", 0), ("preview", 5), ("full", 5)]
    seen.clear()
    r.submit(9, final=True)  # a button: one full render, no preview
    assert r.wait(10) and seen == [("full", 9)]


def test_preview_decodes_a_coarser_level(model):
    ex = DirectionExplorer(model, portrait(), crop="center", threaded=False, preview_budget_s=0.0)
    e = ex.ranges()[:, 1] * 0.5
    img, full = ex.decoder.preview(e)
    size = model.config.size
    assert not full and img.shape == (size // 2, size // 2, 3)
    n = len(model.config.resolutions)
    x = torch.from_numpy(ex.source.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.inference_mode():
        st = model.encode_source(x)
        z = (
            st.latent
            + (st.alpha + torch.as_tensor(e, dtype=torch.float32)[None]) @ model.directions().T
        )
        whole = model.dec(z, st.features)
        coarse = model.dec(z, st.features, levels=n - 1)
    assert_same_image(img, uint8(coarse)[0])
    assert coarse.shape[-1] == size // 2 and whole.shape[-1] == size


def test_latest_value_wins_when_threaded(model):
    ex = DirectionExplorer(model, portrait(), crop="center", threaded=True)
    for k in range(30):
        ex.ui.sliders[0].value = 0.1 * (k + 1)
    assert ex.wait(30)
    r = ex.renderer
    assert r.submitted == 30 and r.rendered < 30
    assert_same_image(ex.current_image, expected_edit(model, ex.source, ex.values()))
    assert "rendering" not in ex.status.value


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
