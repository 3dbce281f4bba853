"""Speed of one LIA training step (G step and D step) on this machine, and GFLOP/s.

    python benchmarks/bench_train.py [--sizes 64 128 256] [--batch 4] [--repeats 2]
                                     [--vgg-weights vgg19-dcbb9e9d.pth] [--threads N]

The steps are liaviz.training.step's own `generator_step` and `discriminator_step` plus the Adam
updates, on the official architecture (random weights, float32 on CPU). FLOPs are counted with
torch.utils.flop_counter and compared with this machine's float32 matmul rate measured in the
same run, so the ratios hold whatever the machine. The VGG19 perceptual pyramid is timed as its
own row: with --vgg-weights it uses that file, otherwise a VGG19 with random weights stands in,
for timing only (the cost of a convolution does not depend on its weights).
With a GPU it also times bf16 autocast steps at 256, batch 32, there.
"""

from __future__ import annotations

import argparse

import torch
from _machine import best_time, matmul_rate
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState, PartialState
from torch.utils.flop_counter import FlopCounterMode

from liaviz import LIA, LIAConfig
from liaviz.nn.discriminator import Discriminator
from liaviz.nn.vgg import VGG19Features
from liaviz.training import step
from liaviz.training.losses import PerceptualPyramidLoss, load_vgg19
from liaviz.training.options import LossOptions, MotionOptions
from liaviz.training.terms import GeneratorLoss, LossSetup

LOSS = LossOptions(perceptual="none")  # L1 + GAN; the perceptual pyramid is timed on its own


def count_flops(fn) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def fresh_accelerator(**kwargs) -> Accelerator:
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()
    return Accelerator(**kwargs)


def bench_size(size, batch, repeats, accelerator, vgg_state) -> dict[str, float]:
    device = accelerator.device
    torch.manual_seed(0)
    G = LIA(LIAConfig(size=size))
    step.freeze_unused(G, size)
    D = Discriminator(size)
    g_opt = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], lr=1e-4)
    d_opt = torch.optim.Adam(D.parameters(), lr=1e-4)
    G, D, g_opt, d_opt = accelerator.prepare(G, D, g_opt, d_opt)
    g_loss = GeneratorLoss(LossSetup(LOSS, MotionOptions(), None, accelerator.unwrap_model(D)))
    images = torch.rand(2, batch, 3, size, size, device=device) * 2 - 1
    batches = [{"source": images[0], "driving": images[1]}]
    fakes = []

    def g_step():
        g_opt.zero_grad(set_to_none=True)
        _, out = step.generator_step(G, g_loss.critic, batches, g_loss, accelerator)
        g_opt.step()
        fakes[:] = out

    def d_step():
        d_opt.zero_grad(set_to_none=True)
        step.discriminator_step(D, batches, fakes, 0.0, accelerator)
        d_opt.step()

    # the machine's matmul rate right before this size: on a shared machine the load drifts
    row = {
        "peak": matmul_rate(
            3,
            n=2048 if device.type == "cpu" else 8192,
            device=device,
            dtype=torch.float32 if device.type == "cpu" else torch.bfloat16,
        )
    }
    # the warm-up pass counts the FLOPs
    row["g_step_s"] = best_time(
        g_step, repeats, device, lambda: row.update(g_gflop=count_flops(g_step) / 1e9)
    )
    row["d_step_s"] = best_time(
        d_step, repeats, device, lambda: row.update(d_gflop=count_flops(d_step) / 1e9)
    )
    if vgg_state is not None and size * 0.125 >= 16:
        perceptual = PerceptualPyramidLoss(VGG19Features.from_state_dict(vgg_state)).to(device)
        target = images[1]
        pred = images[0].clone().requires_grad_(True)

        def vgg_step():
            with accelerator.autocast():
                perceptual(pred, target).backward()

        row["vgg_s"] = best_time(
            vgg_step, repeats, device, lambda: row.update(vgg_gflop=count_flops(vgg_step) / 1e9)
        )
    return row


def random_vgg_state() -> dict[str, torch.Tensor]:
    return {
        f"features.{k}": torch.randn_like(v) * 0.01
        for k, v in VGG19Features().features.state_dict().items()
    }


def report(title: str, rows: dict[int, dict]) -> None:
    print(f"\n{title}")
    print(f"{'size':>5} {'G step s':>9} {'D step s':>9} {'G+D s':>8} {'GFLOP':>8} {'GFLOP/s':>8} "
          f"{'matmul':>8} {'of it':>6} {'VGG s':>7} {'VGG GFLOP/s':>11}")  # fmt: skip
    for size, r in rows.items():
        total = r["g_step_s"] + r["d_step_s"]
        gflop = r["g_gflop"] + r["d_gflop"]
        rate = gflop / total
        vgg = (
            f"{r['vgg_s']:7.2f} {r['vgg_gflop'] / r['vgg_s']:11.1f}"
            if "vgg_s" in r
            else f"{'-':>7} {'-':>11}"
        )
        print(f"{size:>5} {r['g_step_s']:9.3f} {r['d_step_s']:9.3f} {total:8.3f} {gflop:8.1f} "
              f"{rate:8.1f} {r['peak']:8.1f} {rate / r['peak']:6.1%} {vgg}")  # fmt: skip
    print(
        "GFLOP/s: G+D step FLOPs (torch.utils.flop_counter) / G+D seconds; matmul: this "
        "machine's matmul GFLOP/s measured just before that row; of it: their ratio"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--vgg-weights", help="torchvision vgg19-*.pth (default: random, timing only)"
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU part even with a GPU")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.vgg_weights:
        vgg_state = {
            f"features.{k}": v
            for k, v in load_vgg19(args.vgg_weights).features.state_dict().items()
        }
        vgg_note = args.vgg_weights
    else:
        vgg_state, vgg_note = random_vgg_state(), "random weights (timing only)"

    print(f"CPU, {torch.get_num_threads()} thread(s), float32; batch {args.batch}; "
          f"official widths; VGG19: {vgg_note}")  # fmt: skip
    accelerator = fresh_accelerator(cpu=True, mixed_precision="no")
    rows = {s: bench_size(s, args.batch, args.repeats, accelerator, vgg_state) for s in args.sizes}
    report("training step on CPU (G step: G fwd+bwd, D fwd on fakes, Adam; D step: 2 D fwd+bwd, Adam)",
           rows)  # fmt: skip

    if torch.cuda.is_available() and not args.no_gpu:
        print(f"\nGPU {torch.cuda.get_device_name()} (matmul: bf16 8192^3)")
        accelerator = fresh_accelerator(mixed_precision="bf16")
        row = bench_size(256, 32, 5, accelerator, vgg_state)
        report("bf16 autocast training step on GPU, batch 32", {256: row})


if __name__ == "__main__":
    main()
