"""The explorer in a real browser: JupyterLab in Debian's Chromium, driven by Playwright.

Opens the notebook, runs all cells from the Run menu, moves a direction slider with the keyboard
and checks that the explorer's image changes. Saves a screenshot (to $LIAVIZ_TEST_ARTIFACTS when
set, else the test's tmp folder). Skips when Chromium or Playwright is not installed:
    apt-get install -y chromium && .venv/bin/pip install playwright
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ._explore_helpers import notebook_with

CHROMIUM = next(
    (shutil.which(b) for b in ("chromium", "chromium-browser") if shutil.which(b)), None
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium browser installed")

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "liaviz-browser-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port, rooted in a folder holding a copy of the notebook."""
    work = tmp_path / "work"
    work.mkdir()
    notebook_with(8, work)
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # no news / update toasts over the page
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
    )
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={work}",
        "--LabApp.news_url=",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "lab.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
            page.goto(f"{lab}/lab/tree/explore_directions.ipynb?token={TOKEN}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="attached")
            # the kernel must be connected, or Run All is silently dropped
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
            page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
            page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
            page.wait_for_selector(".jp-InputPrompt:text-matches('\\[(\\*|\\d+)\\]')")

            handle = page.locator(".liaviz-direction-slider .noUi-handle").first
            handle.wait_for(state="visible")
            image = page.locator("img.liaviz-explorer-image")
            image.wait_for(state="visible")
            # wait for the last cell (edit-then-animate) so the kernel is free for slider events
            page.wait_for_selector(".jp-OutputArea-output video", state="attached")
            before = image.get_attribute("src")

            handle.scroll_into_view_if_needed()
            handle.focus()
            for _ in range(8):
                page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "before => document.querySelector('img.liaviz-explorer-image').src !== before",
                arg=before,
                timeout=60_000,
            )
            status = page.locator(".liaviz-explorer").inner_text()
            explorer = page.locator(".liaviz-explorer")
            explorer.scroll_into_view_if_needed()
            shot = _artifacts(tmp_path) / "explorer_jupyterlab.png"
            explorer.screenshot(path=str(shot))
            for name in ("reference-view", "magnitude-pca"):
                view = page.locator(f".liaviz-{name}")
                view.scroll_into_view_if_needed()
                view.screenshot(path=str(shot.with_name(f"{name}_jupyterlab.png")))
        except Exception:
            page.screenshot(path=str(_artifacts(tmp_path) / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert "last render" in status
    assert "error" not in status.lower()
    assert shot.stat().st_size > 10_000
