"""Speed of the LIA model on this machine: encoder, decoder at batch 1 and 8, and GFLOP/s.

    python benchmarks/bench_model.py [--sizes 256 128 64] [--repeats 3] [--threads N]

Official architecture, random weights, float32, inference mode. Achieved GFLOP/s are counted with
torch.utils.flop_counter and compared with two peaks of this machine measured in the same run: a
large 3x3 convolution through oneDNN (the library that runs the model's convs: "% conv", the
meaningful one) and a float32 matmul (BLAS: "% mm"; MKL on AMD CPUs may be far from the conv
rate, which once gave "% of peak" figures above 100%). The first line names the CPU, the ISA
caps in force (e.g. ONEDNN_MAX_CPU_ISA=AVX2 to emulate an AVX2-only CPU) and the load.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _machine import best_time, conv_rate, describe, matmul_rate
from _official import load_official, official_step_s
from torch.utils.flop_counter import FlopCounterMode

from liaviz import LIA, LIAConfig


def count_flops(fn) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn()
    return counter.get_total_flops()


def bench_size(size: int, repeats: int, peak: dict[str, float], official=None) -> dict[str, float]:
    torch.manual_seed(0)
    model = LIA(LIAConfig(size=size)).eval().requires_grad_(False)
    source = torch.rand(1, 3, size, size) * 2 - 1
    frames8 = torch.rand(8, 3, size, size) * 2 - 1
    with torch.inference_mode():
        state = model.encode_source(source)
        z1 = model.self_latent(state)
        z8 = model.absolute_latent(state, model.encode_motion(frames8))

        def encode():
            return model.encode_source(source)

        def decode1():
            return model.decode(state, z1)

        def decode8():
            return model.decode(state, z8)

        def step(frames):  # animate's steady per-batch work: motion codes, relative codes, decode
            alpha = model.encode_motion(frames)
            return model.decode(state, model.relative_latent(state, alpha, alpha[:1]))

        row = {
            "step_b1_s": best_time(lambda: step(frames8[:1]), repeats),
            "step_b8_per_frame_s": best_time(lambda: step(frames8), repeats) / 8,
            "encoder_s": best_time(encode, repeats),
            "decoder_b1_s": best_time(decode1, repeats),
            "decoder_b8_per_frame_s": best_time(decode8, repeats) / 8,
            "encoder_gflop": count_flops(encode) / 1e9,
            "decoder_gflop": count_flops(decode1) / 1e9,
        }
    row["encoder_gflops"] = row["encoder_gflop"] / row["encoder_s"]
    row["decoder_gflops"] = row["decoder_gflop"] / row["decoder_b1_s"]
    for part in ("encoder", "decoder"):
        for name, rate in peak.items():
            row[f"{part}_frac_{name}"] = row[f"{part}_gflops"] / rate
    row["b8_over_b1"] = row["decoder_b8_per_frame_s"] / row["decoder_b1_s"]
    if official is not None:
        row["official_step_s"] = official_step_s(load_official(official, model), size, repeats)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 128, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument(
        "--official-code",
        type=Path,
        help="a checkout of the official LIA code: also time its per-frame demo step, same run",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peak = {"conv": conv_rate(args.repeats), "mm": matmul_rate(args.repeats)}
    print(describe())
    print(
        f"peaks this run: float32 3x3 conv 256->256 @64x64 (oneDNN) {peak['conv']:.0f} GFLOP/s, "
        f"float32 matmul 2048^3 {peak['mm']:.0f} GFLOP/s\n"
    )
    header = (
        f"{'size':>5} {'enc s':>7} {'dec b1 s':>9} {'dec b8/fr s':>12} {'b8/b1':>6} "
        f"{'enc GF':>7} {'dec GF':>7} {'enc GF/s':>9} {'dec GF/s':>9} "
        f"{'enc %conv':>9} {'dec %conv':>9} {'enc %mm':>8} {'dec %mm':>8}"
    )
    print(header)
    steps = []
    for size in args.sizes:
        r = bench_size(size, args.repeats, peak, args.official_code)
        steps.append((size, r))
        print(
            f"{size:>5} {r['encoder_s']:>7.3f} {r['decoder_b1_s']:>9.3f} "
            f"{r['decoder_b8_per_frame_s']:>12.3f} {r['b8_over_b1']:>6.2f} "
            f"{r['encoder_gflop']:>7.1f} {r['decoder_gflop']:>7.1f} {r['encoder_gflops']:>9.0f} "
            f"{r['decoder_gflops']:>9.0f} {100 * r['encoder_frac_conv']:>8.0f}% "
            f"{100 * r['decoder_frac_conv']:>8.0f}% {100 * r['encoder_frac_mm']:>7.0f}% "
            f"{100 * r['decoder_frac_mm']:>7.0f}%",
            flush=True,
        )
    print(
        f"\n{'size':>5} {'step b1 s':>10} {'step b8/fr s':>13} {'official step s':>16} {'ratio':>6}"
    )
    for size, r in steps:
        off = r.get("official_step_s", float("nan"))
        best = min(r["step_b1_s"], r["step_b8_per_frame_s"])
        print(
            f"{size:>5} {r['step_b1_s']:>10.3f} {r['step_b8_per_frame_s']:>13.3f} {off:>16.3f} "
            f"{off / best:>6.2f}"
        )
    print(
        "step = animate's steady work per frame (motion code + relative code + decode); ratio = "
        "official demo step / best liaviz step (needs --official-code)"
    )


if __name__ == "__main__":
    main()
