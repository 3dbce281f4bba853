"""JupyterLab in Debian's Chromium, driven by Playwright: shared by tests/test_browser.py and
benchmarks/bench_browser.py. See /work/shared/reference/ENVIRONMENT.md for the set-up."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = next(
    (shutil.which(b) for b in ("chromium", "chromium-browser") if shutil.which(b)), None
)
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


@contextlib.contextmanager
def jupyterlab(work: Path, scratch: Path, env: dict | None = None):
    """A JupyterLab server on a free port rooted in ``work``; yields its URL."""
    settings = scratch / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    # no news / update toasts over the page
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        **(env or {}),
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
    log_path = scratch / "lab.log"
    log = open(log_path, "wb")
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
                    raise RuntimeError(
                        f"JupyterLab did not start: {log_path.read_text()}"
                    ) from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def open_and_run_all(page, url: str, notebook: str) -> None:
    """Open a notebook, wait for its kernel, and run every cell from the Run menu."""
    page.goto(f"{url}/lab/tree/{notebook}?token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="attached")
    # the kernel must be connected, or Run All is silently dropped
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
    page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
    page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
    page.wait_for_selector(".jp-InputPrompt:text-matches('\\[(\\*|\\d+)\\]')")


# Records every change of the explorer image's src with its time (performance.now(), ms), and
# of its status line (where the busy dot is), when it has one.
WATCH_IMAGE = """() => {
  const img = document.querySelector('img.liaviz-explorer-image');
  window.__liaviz_changes = [];
  window.__liaviz_status = [];
  new MutationObserver(() => window.__liaviz_changes.push(performance.now()))
    .observe(img, {attributes: true, attributeFilter: ['src']});
  const status = document.querySelector('.liaviz-explorer-status');
  if (status) {
    new MutationObserver(() => window.__liaviz_status.push(performance.now()))
      .observe(status, {childList: true, subtree: true, characterData: true});
  }
}"""


def bring_into_view(page, locator, tries: int = 10) -> None:
    """Scroll until ``locator`` stays inside the viewport: JupyterLab lays out a long notebook
    lazily, so one scroll can land before cells above it settle and push it out again."""
    for _ in range(tries):
        locator.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(300)
        box, height = locator.bounding_box(), page.viewport_size["height"]
        if box is not None and 0 <= box["y"] and box["y"] + box["height"] <= height:
            return
    raise AssertionError(f"could not scroll {locator} into view")


def drag(page, handle, dx: float, steps: int = 20, pause_ms: float = 0.0) -> float:
    """Drag a slider handle by ``dx`` pixels in ``steps`` moves; returns performance.now() at
    the press."""
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    t0 = page.evaluate("performance.now()")
    page.mouse.down()
    for k in range(1, steps + 1):
        page.mouse.move(x + dx * k / steps, y)
        if pause_ms:
            page.wait_for_timeout(pause_ms)
    page.mouse.up()
    return t0
