"""benchmarks/bench_gpu.py stays runnable without a GPU: its CPU smoke mode and its no-CUDA exit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from .conftest import REFERENCE, REPO

SCRIPT = REPO / "benchmarks" / "bench_gpu.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_so_and_exits_cleanly():
    r = _run()
    assert r.returncode == 0, r.stderr
    assert "CUDA is not available" in r.stdout


def test_cpu_smoke_run_prints_the_table(tmp_path):
    golden = REFERENCE if (REFERENCE / "golden" / "official_golden_64.pt").exists() else tmp_path
    r = _run("--device", "cpu", "--quick", "--golden", str(golden))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    if golden == REFERENCE:
        assert any(
            line.startswith("golden float32 (6 outputs") and ": ok;" in line for line in lines
        )
    else:
        assert any(line.startswith("golden: skipped") for line in lines)
    rows = [line.split() for line in lines if line.startswith("float32 ")]
    assert [row[1] for row in rows] == ["1", "2"]
    assert all(float(v) > 0 for row in rows for v in row[2:5])
