"""The explorer in a real browser: JupyterLab in Debian's Chromium, driven by Playwright.

Opens the notebook, runs all cells from the Run menu, checks that the PCA view drew one scatter
trace per clip with its points, drags a direction slider with the mouse and checks that the
explorer's image changes, then moves one with the keyboard. Also opens the demo page
(``liaviz.demo.build``) copied alone into another folder. Saves screenshots (to
$LIAVIZ_TEST_ARTIFACTS when set, else the test's tmp folder). Skips when Chromium or Playwright
is not installed:
    apt-get install -y chromium && .venv/bin/pip install playwright
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from liaviz.demo import load_demo_model, sample_photo

from ._explore_helpers import notebook_with
from ._lab import ARGS, CHROMIUM, WATCH_IMAGE, bring_into_view, drag, jupyterlab, open_and_run_all

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium browser installed")

N_CLIPS = 2  # the notebook's default driving: two synthetic clips


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port, rooted in a folder holding a copy of the notebook."""
    work = tmp_path / "work"
    work.mkdir()
    notebook_with(8, work)
    with jupyterlab(work, tmp_path) as url:
        yield url


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LIAVIZ_TEST_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_slider_changes_image_in_jupyterlab(lab, tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(120_000)
            open_and_run_all(page, lab, "explore_directions.ipynb")

            handle = page.locator(".liaviz-direction-slider .noUi-handle").first
            handle.wait_for(state="visible")
            # the notebook's first explorer (the Mona Lisa's); a second one explores a photo
            first_explorer = page.locator(".liaviz-explorer").first
            image = page.locator("img.liaviz-explorer-image").first
            image.wait_for(state="visible")
            # wait for the last cells (edit-then-animate, the photo animated in place: two
            # videos) so the kernel is free for slider events
            page.wait_for_function(
                "() => document.querySelectorAll('.jp-OutputArea-output video').length >= 2",
                timeout=120_000,
            )

            # the PCA scatter: one trace per clip, each with its points drawn, and the ring
            # around the shown point
            pca = page.locator(".liaviz-magnitude-pca")
            pca.scroll_into_view_if_needed()
            traces = pca.locator(".scatterlayer .trace")
            page.wait_for_function(
                "n => document.querySelectorAll("
                "'.liaviz-magnitude-pca .scatterlayer .trace').length === n",
                arg=N_CLIPS + 1,
                timeout=60_000,
            )
            n_traces = traces.count()
            n_points = pca.locator(".scatterlayer .trace .points path").count()

            # a mouse drag along the first slider changes the image
            bring_into_view(page, handle)
            before = image.get_attribute("src")
            page.evaluate(WATCH_IMAGE)
            drag(page, handle, 60)
            page.wait_for_function(
                "before => document.querySelector('img.liaviz-explorer-image').src !== before",
                arg=before,
                timeout=60_000,
            )
            dragged = image.get_attribute("src")
            # and so do keyboard steps on the second slider
            second = page.locator(".liaviz-direction-slider .noUi-handle").nth(1)
            second.focus()
            for _ in range(8):
                page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "before => document.querySelector('img.liaviz-explorer-image').src !== before",
                arg=dragged,
                timeout=60_000,
            )
            page.wait_for_timeout(1500)  # let the full image land after the previews
            explorer = first_explorer
            status = page.locator(".liaviz-explorer-status").first.inner_text()
            explorer.scroll_into_view_if_needed()
            shot = _artifacts(tmp_path) / "explorer_jupyterlab.png"
            explorer.screenshot(path=str(shot))
            # every slider is in the page, none hidden in a scroll box of its own
            n_handles = explorer.locator(".liaviz-direction-slider .noUi-handle").count()
            scrolls = page.evaluate(
                "() => { const e = document.querySelector('.liaviz-direction-rows');"
                " return e.scrollHeight > e.clientHeight + 1; }"
            )
            for name in ("reference-view", "magnitude-pca"):
                view = page.locator(f".liaviz-{name}")
                view.scroll_into_view_if_needed()
                view.screenshot(path=str(shot.with_name(f"{name}_jupyterlab.png")))
        except Exception:
            page.screenshot(path=str(_artifacts(tmp_path) / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert n_traces == N_CLIPS + 1 and n_points >= N_CLIPS
    assert dragged != before
    assert "last render" in status or "preview" in status
    assert "error" not in status.lower()
    assert n_handles == _motion_dim() and not scrolls
    assert shot.stat().st_size > 10_000


def _motion_dim() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_demo_model()[0].config.motion_dim


# ---- the demo page, shared alone ---------------------------------------------------------------

# every rendered element whose own text is smaller than 12 px (HTML and the plots' SVG text)
SMALL_TEXT = """() => {
  const small = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const px = parseFloat(style.fontSize);
    if (px < 12) small.push(`${el.tagName} ${px}px: ${el.textContent.trim().slice(0, 40)}`);
  }
  return small;
}"""
BROKEN_IMAGES = """() => Array.from(document.images)
  .filter(i => !i.complete || i.naturalWidth === 0).map(i => (i.alt || i.src).slice(0, 60))"""


def check_demo_page_alone(index: Path, tmp_path: Path) -> dict:
    """Open a copy of ``index`` alone in a folder in Chromium: what failed to show, what it asked
    for beyond itself, and its text under 12 px. Returns the findings (empty lists: all good)."""
    alone = tmp_path / "shared-alone"
    alone.mkdir()
    copy = alone / "index.html"
    copy.write_bytes(index.read_bytes())
    url = copy.as_uri()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
            pca_points = page.evaluate(
                "() => document.querySelectorAll('#pca-2d .scatterlayer .trace .points path')"
                ".length"
            )
            found = {
                "broken images": page.evaluate(BROKEN_IMAGES),
                "images": page.evaluate("() => document.images.length"),
                "PCA points": pca_points,
                "fallback shown": page.evaluate(
                    "() => Array.from(document.querySelectorAll('.fallback'))"
                    ".some(e => e.getClientRects().length > 0)"
                ),
                "requests beyond the page": [
                    u for u in requests if u != url and not u.startswith(("data:", "blob:"))
                ],
                "text under 12 px": page.evaluate(SMALL_TEXT),
            }
            page.screenshot(path=str(_artifacts(tmp_path) / "demo_page_alone.png"), full_page=True)
            # where scripts cannot run (a mail viewer, a strict policy): the fallback shows
            no_js = browser.new_context(java_script_enabled=False).new_page()
            no_js.goto(url, wait_until="load")
            found["fallback without scripts"] = no_js.locator(".fallback").is_visible()
        finally:
            browser.close()
    return found


def test_demo_page_opens_alone(tmp_path):
    """index.html copied alone into another folder shows every image and the PCA plot, asks
    for no other file, and has no text under 12 px."""
    from liaviz.demo import EMBEDDED_MODEL, build

    from ._explore_helpers import tiny_model

    # a tiny model keeps the build to seconds; named as the bundled one, its card is shown
    result = build(tiny_model(), tmp_path / "demo", frames=4, top=2, label=EMBEDDED_MODEL)
    found = check_demo_page_alone(result.index, tmp_path)
    assert found["images"] > 20 and found["broken images"] == []
    assert found["PCA points"] >= 2 and not found["fallback shown"]
    assert found["fallback without scripts"]
    assert found["requests beyond the page"] == []
    assert found["text under 12 px"] == []


# ---- issue 25: the explorer as a new user meets it (one small notebook, the embedded model) ----

EXPLORER_CELL = """import warnings
from liaviz import demo
from liaviz.explore import DirectionExplorer
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    model, _ = demo.load_demo_model()
explorer = DirectionExplorer(model, demo.sample_portrait(), driving=demo.sample_driving(64, 8),
                             folder="explorer_out")
explorer"""

# the first value box shows the first slider's value: the kernel has echoed the last key press
SETTLED = """() => {
  const h = document.querySelector('.liaviz-direction-slider .noUi-handle');
  const b = document.querySelector('.liaviz-direction-value input');
  return h && b && Math.abs(parseFloat(b.value) - parseFloat(h.getAttribute('aria-valuetext'))) < 1e-3;
}"""

# the controls whose places must not move when another control is used
PLACES = [
    ".liaviz-explorer-status",
    ".liaviz-direction-rows",
    ".liaviz-animation-box",
    ".liaviz-animate-message",
    ".liaviz-files-message",
    ".liaviz-last-file",
    ".liaviz-export-preview",
    ".liaviz-upload-portrait",
    ".liaviz-log",
]


@pytest.fixture
def explorer_lab(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    write_notebook(work / "explorer.ipynb", [EXPLORER_CELL])
    with jupyterlab(work, tmp_path) as url:
        yield url, work


def _places(page) -> dict[str, tuple[float, float]]:
    """Each control's place, relative to the explorer's top left (the page may scroll)."""
    top = page.locator(".liaviz-explorer").first.bounding_box()
    out = {}
    for sel in PLACES:
        box = page.locator(f".liaviz-explorer {sel}").first.bounding_box()
        out[sel] = (round(box["x"] - top["x"], 1), round(box["y"] - top["y"], 1))
    return out


def _names_in(page, selector: str, attribute: str = "textContent") -> list[str]:
    texts = page.evaluate(
        f"() => Array.from(document.querySelectorAll({selector!r})).map(e => e.{attribute}.trim())"
    )
    return [t.replace("\xa0", " ") for t in texts]  # the dropdown writes spaces as nbsp


def test_explorer_names_order_messages_and_a_layout_that_never_moves(explorer_lab, tmp_path):
    url, work = explorer_lab
    other = tmp_path / "other.png"
    Image.fromarray(np.asarray(sample_photo())[96:352, 128:384]).save(other)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(120_000)
        try:
            open_and_run_all(page, url, "explorer.ipynb")
            page.locator("img.liaviz-explorer-image").wait_for(state="visible")
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
            # named sliders, one order in the rows, the mixer and the sweep list
            names = _names_in(page, ".liaviz-direction-name input", "value")
            toggles = _names_in(page, ".liaviz-mixer-toggle")
            sweep = _names_in(page, ".liaviz-sweep-direction option")
            places = _places(page)

            # an arrow key moves 1% of the range, Shift+arrow 10%
            handle = page.locator(".liaviz-direction-slider .noUi-handle").first
            handle.focus()
            aria = [float(handle.get_attribute(f"aria-value{k}")) for k in ("min", "max", "text")]
            handle.press("ArrowRight")
            page.wait_for_timeout(300)
            one = float(handle.get_attribute("aria-valuetext"))
            handle.press("Shift+ArrowRight")
            page.wait_for_timeout(300)
            ten = float(handle.get_attribute("aria-valuetext"))

            # a typed 12 widens the first slider (its range is smaller) instead of clipping; first
            # the kernel's echo of the arrow keys lands in the box, so it cannot overwrite the 12
            page.wait_for_function(SETTLED, timeout=30_000)
            box = page.locator(".liaviz-direction-value input").first
            box.fill("12")
            box.press("Enter")
            row = page.locator(".liaviz-direction-row").first
            page.wait_for_function(
                "() => document.querySelector('.liaviz-direction-row').innerText.includes('↔')",
                timeout=30_000,
            )
            page.wait_for_timeout(500)  # any late echo of the slider would land by now
            typed = (row.inner_text(), box.input_value())
            after_typing = _places(page)

            # Export to a folder that cannot be made: the error shows beside Export
            export = page.locator(".liaviz-explorer button", has_text="Export PNG")
            export.click()
            page.wait_for_selector(".liaviz-last-file :text('edit.png')")
            folder = page.locator(".liaviz-folder input")
            folder.fill("/proc/nope")
            folder.press("Enter")
            export.click()
            message = page.locator(".liaviz-files-message")
            page.wait_for_selector(".liaviz-files-message :text('error')")
            gap = message.bounding_box()["y"] - export.bounding_box()["y"]
            message_text = message.inner_text()
            last_file = page.locator(".liaviz-last-file").inner_text()
            after_export = _places(page)

            # Animate: the player takes its reserved place
            page.locator(".liaviz-explorer button", has_text="Animate edit").click()
            page.wait_for_selector(".liaviz-animation-box video", timeout=120_000)
            after_animate = _places(page)

            # an upload changes the source
            source = page.locator("img.liaviz-explorer-source").get_attribute("src")
            with page.expect_file_chooser() as chooser:
                page.locator(".liaviz-upload-portrait").click()
            chooser.value.set_files(str(other))
            page.wait_for_function(
                "before => document.querySelector('img.liaviz-explorer-source').src !== before",
                arg=source,
                timeout=120_000,
            )
            page.wait_for_selector(".liaviz-inputs-message :text('new portrait')")
            after_upload = _places(page)
            page.locator(".liaviz-explorer").first.screenshot(
                path=str(_artifacts(tmp_path) / "explorer_issue25.png")
            )
        except Exception:
            page.screenshot(path=str(_artifacts(tmp_path) / "failure25.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert all(": " in n for n in names[:3]), names  # the anatomy's names, by default
    span = aria[1] - aria[0]
    assert one - aria[2] == pytest.approx(0.01 * span, abs=0.006), (aria, one)
    assert ten - one == pytest.approx(0.1 * span, abs=0.006), (aria, one, ten)
    assert toggles == names, (toggles, names)
    assert sweep == names, (sweep, names)
    assert "↔" in typed[0] and float(typed[1]) == 12.0  # kept as typed, not clipped
    assert "error" in message_text and 0 < gap < 160  # right under Export, not 840 px away
    assert "edit.png" not in last_file
    steps = {"typing": after_typing, "export": after_export, "animate": after_animate,
             "upload": after_upload}  # fmt: skip
    for step, after in steps.items():  # zero layout shift, everywhere
        assert after == places, (step, {k: v for k, v in after.items() if v != places[k]})


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
             "execution_count": None}
            for c in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                    "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    path.write_text(json.dumps(nb))
    return path
