"""The explorer's latency as a user sees it: JupyterLab in Chromium, a 256 px or 64 px model.

A notebook builds ``DirectionExplorer`` on the official architecture at 256 (random weights:
speed does not depend on them) or, with ``--size 64``, on the embedded 64 px model. In the browser a MutationObserver timestamps every change of the
explorer image; the bench then
- drags the first slider with the mouse (10 moves 50 ms apart) and reports the time from the
  press to the first new image and to the last one (the full image), median over ``--drags``;
- clicks Randomize and reports how many images arrive and when the last one lands.

    .venv/bin/python benchmarks/bench_browser.py [--size 256|64] [--drags 3]
        [--pythonpath OTHER_CHECKOUT]

``--pythonpath`` puts another checkout first on the kernel's path (e.g. the code before a
change, from ``git archive``), so both are measured on the same machine and load. Needs Debian's
chromium and playwright (see tests/test_browser.py). Targets: first image <= 0.4 s at 256 px,
<= 0.15 s at 64 px.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests._lab import ARGS, CHROMIUM, WATCH_IMAGE, drag, jupyterlab, open_and_run_all  # noqa: E402

CELL = """import torch
from liaviz import LIA, LIAConfig, demo
from liaviz.explore import DirectionExplorer
torch.manual_seed(0)
model = {model}
explorer = DirectionExplorer(model, demo.sample_portrait())
explorer"""
MODELS = {256: "LIA(LIAConfig()).eval()", 64: "demo.load_demo_model()[0]"}
TARGET_MS = {256: 400, 64: 150}


def _settle(page, quiet_ms: float, limit_s: float = 60.0) -> list[float]:
    """Wait until no image change for ``quiet_ms``; the change times (ms)."""
    deadline = time.monotonic() + limit_s
    last_n, last_t = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = page.evaluate("window.__liaviz_changes.length")
        if n != last_n:
            last_n, last_t = n, time.monotonic()
        elif (time.monotonic() - last_t) * 1000 > quiet_ms:
            break
        page.wait_for_timeout(100)
    return page.evaluate("window.__liaviz_changes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--drags", type=int, default=3)
    ap.add_argument("--size", type=int, choices=sorted(MODELS), default=256)
    ap.add_argument("--pythonpath", help="a checkout to import liaviz from instead")
    args = ap.parse_args()
    if CHROMIUM is None:
        sys.exit("no chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    env = {"PYTHONPATH": str(Path(args.pythonpath).resolve())} if args.pythonpath else {}
    print(f"code: {args.pythonpath or REPO}; {args.size} px; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        work, scratch = Path(tmp) / "work", Path(tmp) / "scratch"
        work.mkdir()
        nb = {
            "cells": [
                {
                    "cell_type": "code",
                    "metadata": {},
                    "source": CELL.format(model=MODELS[args.size]),
                    "outputs": [],
                    "execution_count": None,
                }
            ],
            "metadata": {
                "kernelspec": {
                    "name": "python3",
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                }
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (work / "bench.ipynb").write_text(json.dumps(nb))
        with jupyterlab(work, scratch, env) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(180_000)
            open_and_run_all(page, url, "bench.ipynb")
            page.wait_for_selector(
                "img.liaviz-explorer-image[src^='blob:'], img.liaviz-explorer-image[src^='data:']"
            )
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
            page.evaluate(WATCH_IMAGE)
            handle = page.locator(".liaviz-direction-slider .noUi-handle").first
            firsts, lasts, counts, busy = [], [], [], []
            for k in range(args.drags + 1):  # the first drag warms up
                page.evaluate("window.__liaviz_changes = []; window.__liaviz_status = []")
                t0 = drag(page, handle, 70 if k % 2 == 0 else -70, steps=10, pause_ms=50)
                changes = _settle(page, 4000)
                status_times = page.evaluate("window.__liaviz_status")
                if k and changes:
                    firsts.append(changes[0] - t0)
                    lasts.append(changes[-1] - t0)
                    counts.append(len(changes))
                    if status_times:
                        busy.append(status_times[0] - t0)
            page.evaluate("window.__liaviz_changes = []")
            button = page.locator(".liaviz-explorer button", has_text="Randomize")
            t0 = page.evaluate("performance.now()")
            button.click()
            rand = _settle(page, 5000)
            status = page.locator(".liaviz-explorer").inner_text()
            browser.close()
    med = sorted(firsts)[len(firsts) // 2] if firsts else float("nan")
    target = TARGET_MS[args.size]
    print(
        f"drag, first new image: {[round(f) for f in firsts]} ms  median {med:.0f} ms  "
        f"target {target} ms  ratio {med / target:.2f}"
    )
    print(f"drag, last image:      {[round(x) for x in lasts]} ms  images per drag {counts}")
    if busy:
        print(f"drag, first status change (busy dot): {[round(b) for b in busy]} ms")
    print(
        f"Randomize: {len(rand)} image(s), last at "
        f"{(rand[-1] - t0) if rand else float('nan'):.0f} ms after the click"
    )
    print(
        f"load average {os.getloadavg()[0]:.1f}; status line: "
        f"{[line for line in status.splitlines() if 'render' in line][:1]}"
    )


if __name__ == "__main__":
    main()
