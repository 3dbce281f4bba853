"""What the benchmarks share: the machine's description, timing, and its peak references.

A "% of peak" is only meaningful against a peak this machine reaches on the same kind of work,
so next to the float32 matmul (BLAS: MKL, which on AMD CPUs may not take its fastest path) the
benchmarks measure a large 3x3 convolution through oneDNN, the library that runs every conv of
the model. Both are measured in the same run as the model, under the same load.
"""

from __future__ import annotations

import os
import platform
import time

import torch

from liaviz.runtime.device import native_bf16

# oneDNN / MKL / ATen caps that emulate an older CPU (e.g. ONEDNN_MAX_CPU_ISA=AVX2)
EMULATION_VARS = ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """One line: CPU, ISA caps in force, torch, threads, bf16 units, load."""
    caps = [f"{v}={os.environ[v]}" for v in EMULATION_VARS if v in os.environ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu_name()} ({os.cpu_count()} CPUs), ATen {torch.backends.cpu.get_cpu_capability()}"
        f"{', ' + ' '.join(caps) if caps else ''}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; native bf16 on CPU: {native_bf16('cpu')}; "
        f"load average {load:.2f}"
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, repeats: int, device: torch.device | None = None, warmup=None) -> float:
    """Fastest of ``repeats`` calls after one warm-up (allocator, oneDNN / cuDNN caches):
    ``warmup()`` if given (e.g. the same call under a FLOP counter), else ``fn()``."""
    device = device or torch.device("cpu")
    (warmup or fn)()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_rate(repeats: int, n: int = 2048, device=None, dtype=torch.float32) -> float:
    """GFLOP/s of an n^3 matmul."""
    device = torch.device(device or "cpu")
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / best_time(lambda: a @ b, repeats + 2, device) / 1e9


def conv_rate(repeats: int, channels: int = 256, size: int = 64, batch: int = 4) -> float:
    """GFLOP/s of a large float32 3x3 convolution (channels -> channels at size x size, padded,
    channels-last, as the model runs them) through oneDNN: this machine's practical conv peak."""
    x = torch.randn(batch, channels, size, size).contiguous(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, 3, 3).contiguous(memory_format=torch.channels_last)
    flop = 2 * batch * channels * channels * 9 * size * size
    with torch.inference_mode():
        seconds = best_time(lambda: torch.nn.functional.conv2d(x, w, padding=1), repeats + 1)
    return flop / seconds / 1e9
