"""benchmarks/bench_backends.py runs on any machine: eager always, OpenVINO when installed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from .conftest import REPO

SCRIPT = REPO / "benchmarks" / "bench_backends.py"


def test_it_times_eager_and_openvino_or_says_it_is_missing():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(SCRIPT), "--size", "32", "--repeats", "1", "--openvino"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    for part in ("motion", "decoder"):
        eager = [row for row in rows if row[:1] == [part] and "eager" in row]
        assert len(eager) == 1 and float(eager[0][-3]) > 0  # its time in seconds
        engine = [row for row in rows if row[:1] == [part] and "openvino" in row]
        assert len(engine) == 1
        if importlib.util.find_spec("openvino") is None:
            assert "not installed" in " ".join(engine[0])
        else:  # outputs agree with eager to float32 rounding, relative to their range
            assert float(engine[0][-1]) < 1e-3
