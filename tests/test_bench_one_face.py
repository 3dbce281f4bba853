"""benchmarks/bench_one_face.py: its ratios start where a model that ignores motion scores, and
move once it trains; the oracle's codes line up with the probe frames."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from liaviz.data.synthetic import FACTOR_NAMES

from .conftest import REPO

SCRIPT = REPO / "benchmarks" / "bench_one_face.py"
HEAD = {"yaw", "pitch", "roll", "tx", "ty", "scale"}


def _history(tmp_path, code: str) -> list[dict]:
    out = tmp_path / f"one_face_{code}.json"
    cmd = [sys.executable, str(SCRIPT), "--init", "fresh", "--code", code, "--steps", "2"]
    cmd += ["--report-every", "1", "--frames", "8", "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "mouth_op" in r.stdout
    return json.loads(out.read_text())["history"]


@pytest.mark.parametrize("code", ["encoder", "oracle"])
def test_a_fresh_model_starts_at_one_and_training_moves_it(tmp_path, code):
    history = _history(tmp_path, code)
    assert [row["step"] for row in history] == [0, 1, 2]
    for row in history:
        assert sorted(row["ratios"]) == sorted(FACTOR_NAMES)
    # the recipe zeroes the flow and RGB heads: every driving frame decodes as the source does,
    # so no factor is reproduced (ratio exactly 1) until a step has moved the heads
    assert all(abs(v - 1.0) < 1e-6 for v in history[0]["ratios"].values())
    last = history[-1]["ratios"]
    assert any(abs(last[name] - 1.0) > 1e-4 for name in set(FACTOR_NAMES) - HEAD)
    if code == "oracle":
        # the oracle codes only expressions: a head factor's probe frames get the neutral code,
        # so their decodes equal the source's own, whatever the model learned
        assert all(abs(last[name] - 1.0) < 1e-6 for name in HEAD)


@pytest.mark.parametrize(
    "args, named",
    [(["--model.channel_multiplier", "-1"], "channel_multiplier"), (["--init", "no.pt"], "no.pt")],
)
def test_bad_arguments_are_one_line_errors(args, named):
    cmd = [sys.executable, str(SCRIPT), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 2
    assert named in r.stderr and "Traceback" not in r.stderr
