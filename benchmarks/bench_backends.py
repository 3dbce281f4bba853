"""Other engines for the two per-frame parts of animation: torch.compile and OpenVINO against eager.

    python benchmarks/bench_backends.py [--size 256] [--repeats 5] [--threads N]
        [--compile] [--openvino]

Official architecture, random weights, float32, batch 1: the motion encoder (driving frame ->
magnitudes) and the decoder (latent code + source features -> image), the two parts of
`liaviz animate`'s steady step. Each engine is timed in the same run as eager PyTorch; the table
gives its one-off cost (compilation or conversion), its time, the speed-up, and the largest
output difference relative to the output's range.

- ``--compile``: ``torch.compile`` (inductor, static shapes). Its first calls compile C++ for a
  minute or more, so it is opt-in here too.
- ``--openvino``: OpenVINO's CPU plugin (``pip install openvino``; not a liaviz dependency), in
  float32 (``INFERENCE_PRECISION_HINT=f32``, so a bf16-capable CPU does not silently change the
  precision) with static batch-1 shapes. It honours ``ONEDNN_MAX_CPU_ISA=AVX2`` like PyTorch,
  so an AVX2-only CPU can be emulated for both.
liaviz adopts an engine only if it is markedly faster on both parts; the closing notes of issue 13
give the figures that kept eager PyTorch.
"""

from __future__ import annotations

import argparse
import time

import torch
from _machine import best_time, describe
from torch import nn

from liaviz import LIA, LIAConfig


class MotionEncoder(nn.Module):
    """``LIA.encode_motion`` (driving frames -> motion magnitudes) as a module to trace."""

    def __init__(self, model: LIA) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.model.encode_motion(frames)


class Decoder(nn.Module):
    """Latent codes and the source's feature pyramid, as separate tensors -> images."""

    def __init__(self, model: LIA) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, *features: torch.Tensor) -> torch.Tensor:
        return self.model.dec(z, list(features))


def relative_difference(out: torch.Tensor, reference: torch.Tensor) -> float:
    return float((out - reference).abs().max() / reference.abs().max())


def with_compile(part: nn.Module, inputs: tuple[torch.Tensor, ...], repeats: int):
    compiled = torch.compile(part, dynamic=False)
    start = time.perf_counter()
    out = compiled(*inputs)
    setup = time.perf_counter() - start
    return setup, best_time(lambda: compiled(*inputs), repeats), out


def with_openvino(part: nn.Module, inputs: tuple[torch.Tensor, ...], repeats: int, threads: int):
    import openvino as ov

    start = time.perf_counter()
    # Traced on a batch of 2 so that the modulated convs take their shared-weight form (batch 1
    # folds the style into the weights, which an engine cannot pre-pack), then fixed to batch 1.
    # Gradients on: liaviz's inference weight caches stay out of the trace.
    doubled = tuple(torch.cat([x, x]) for x in inputs)
    with torch.enable_grad():
        traced = torch.jit.trace(part, doubled, check_trace=False)
    model = ov.convert_model(traced, input=[tuple(x.shape) for x in inputs])
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    config["INFERENCE_NUM_THREADS"] = threads
    request = ov.Core().compile_model(model, "CPU", config).create_infer_request()
    arrays = [x.numpy() for x in inputs]
    out = torch.from_numpy(request.infer(arrays)[0].copy())
    setup = time.perf_counter() - start
    return setup, best_time(lambda: request.infer(arrays), repeats), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--compile", action="store_true", help="time torch.compile (slow start)")
    parser.add_argument("--openvino", action="store_true", help="time OpenVINO (if installed)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    print(describe())

    torch.manual_seed(0)
    model = LIA(LIAConfig(size=args.size)).eval().requires_grad_(False)
    source = torch.rand(1, 3, args.size, args.size) * 2 - 1
    driving = torch.rand(1, 3, args.size, args.size) * 2 - 1
    with torch.inference_mode():
        state = model.encode_source(source)
        z = model.self_latent(state)
    features = tuple(f.clone() for f in state.features)  # plain tensors: tracing needs them
    parts = {
        "motion encoder": (MotionEncoder(model), (driving,)),
        "decoder": (Decoder(model), (z.clone(), *features)),
    }

    print(
        f"\n{'part':<15} {'engine':<14} {'setup s':>8} {'time s':>8} {'speed-up':>9} {'rel diff':>9}"
    )
    for name, (part, inputs) in parts.items():
        with torch.no_grad():
            reference = part(*inputs)
            eager = best_time(lambda: part(*inputs), args.repeats)  # noqa: B023
        print(f"{name:<15} {'eager':<14} {'-':>8} {eager:>8.3f} {1.0:>8.2f}x {'-':>9}", flush=True)
        engines = []
        if args.compile:
            engines.append(("torch.compile", lambda: with_compile(part, inputs, args.repeats)))  # noqa: B023
        if args.openvino:
            try:
                import openvino  # noqa: F401
            except ImportError:
                print(f"{name:<15} {'openvino':<14} not installed (pip install openvino)")
            else:
                engines.append(
                    ("openvino", lambda: with_openvino(part, inputs, args.repeats, threads))  # noqa: B023
                )
        for engine, run in engines:
            with torch.no_grad():
                setup, seconds, out = run()
            print(
                f"{name:<15} {engine:<14} {setup:>8.1f} {seconds:>8.3f} {eager / seconds:>8.2f}x "
                f"{relative_difference(out, reference):>9.1e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
