"""GPU readiness in one command (under 5 minutes): golden equivalence, then speed and memory.

    .venv/bin/python benchmarks/bench_gpu.py [--golden ../shared/reference] [--device cuda]
                                             [--compile none|default|reduce-overhead] [--quick]

1. Golden equivalence in float32 (TF32 off): the official code's outputs in
   ``<golden>/golden/official_golden_{64,256}.pt`` against liaviz on the device, with the golden
   files' deterministic weights; mean and max |diff| against the reference README's tolerances.
2. Speed at 256 px, official architecture, random weights: encode (the source), decode (batch
   of codes against one source) and animate (encode motion + relative code + decode) for batch
   1, 8 and 32, in float32, TF32, bfloat16 and float16 autocast; milliseconds per frame and the
   peak GPU memory of each configuration. ``--compile`` adds torch.compile rows (bfloat16;
   ``reduce-overhead`` uses CUDA graphs); its compilation time is printed apart.
One table is printed. Without CUDA it says so and exits 0. ``--device cpu --quick`` is the
smoke run the test suite makes: golden check at 64 without the manipulation grid, then a narrow
model at 64 px, batch 1 and 2, float32 (bfloat16 only where the CPU has bf16 units). A budget (``--budget``, default
270 s) skips what would not fit, and the table says what was skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))  # the repository, for tests/_golden.py

from _machine import best_time, describe  # noqa: E402

from liaviz import LIA, LIAConfig  # noqa: E402
from liaviz.runtime.device import native_bf16  # noqa: E402
from tests._golden import MAX_TOL, MEAN_TOL, deterministic_official_weights, u8_to_tensor  # noqa: E402

DEFAULT_GOLDEN = HERE.parents[2] / "shared" / "reference"
AUTOCAST = {"float32": None, "tf32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def set_tf32(on: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


# ---- 1. golden equivalence ----------------------------------------------------------------------


def golden_rows(folder: Path, device: torch.device, quick: bool) -> list[tuple[str, float, float]]:
    """(name, mean |diff|, max |diff|) of every golden output, float32 on ``device``."""
    set_tf32(False)
    rows = []
    for size in (64,) if quick else (64, 256):
        data = torch.load(folder / f"official_golden_{size}.pt", weights_only=True)
        model = LIA(LIAConfig(size=int(data["size"]))).eval()
        model.load_state_dict(deterministic_official_weights(model))
        model.to(device)
        with torch.inference_mode():
            state = model.encode_source(u8_to_tensor(data["source_u8"]).to(device))
            alpha = model.encode_motion(u8_to_tensor(data["driving_u8"]).to(device))
            got = {
                "latent": state.latent,
                "alpha": alpha,
                "directions": model.directions(),
                "absolute": model.decode(state, model.absolute_latent(state, alpha)),
                "relative": model.decode(state, model.relative_latent(state, alpha, alpha[0])),
                "reference": model.decode(state, model.reference_latent(state)),
            }
            want = {
                "latent": data["source_latent_wa"],
                "alpha": data["driving_alpha"],
                "directions": data["directions_Q"],
                "absolute": data["absolute"],
                "relative": data["relative"],
                "reference": data["reference"],
            }
            if not quick:
                values = data["manipulation_values"].float()
                for row, d in enumerate(data["manipulation_dirs"].tolist()):
                    offsets = torch.zeros(len(values), model.config.motion_dim, device=device)
                    offsets[:, d] = values.to(device)
                    got[f"manip d{d}"] = model.decode(state, model.edit_latent(state, offsets))
                    want[f"manip d{d}"] = data["manipulation"][row]
        for name, value in got.items():
            diff = (value.float().cpu() - want[name].float()).abs()
            rows.append((f"{size} {name}", float(diff.mean()), float(diff.max())))
    return rows


# ---- 2. speed and memory ------------------------------------------------------------------------


def bench_config(model, size, batch, precision, device, repeats, compiled=None) -> dict:
    """ms per frame of encode / decode / animate and the peak memory of this configuration."""
    set_tf32(precision == "tf32")
    gen = torch.Generator().manual_seed(batch)
    frames = (torch.rand(batch, 3, size, size, generator=gen) * 2 - 1).to(device)
    source = frames[:1]
    dtype = AUTOCAST[precision]
    cast = torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()
    net = compiled or model
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    with torch.inference_mode(), cast:
        state = model.encode_source(source)
        start = model.encode_motion(source)

        def encode():
            return net.encode_source(frames)

        def decode():
            return net.decode(state, model.self_latent(state).expand(batch, -1))

        def animate():
            alpha = net.encode_motion(frames)
            return net.decode(state, model.relative_latent(state, alpha, start))

        row = {
            name: 1000 * best_time(fn, repeats, device) / batch
            for name, fn in (("encode", encode), ("decode", decode), ("animate", animate))
        }
    row["peak_mb"] = (
        torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    )
    return row


class _Compiled:
    """The model's three entry points through torch.compile (compiled on first use)."""

    def __init__(self, model: LIA, mode: str) -> None:
        kwargs = {} if mode == "default" else {"mode": mode}
        self.encode_source = torch.compile(model.encode_source, **kwargs)
        self.encode_motion = torch.compile(model.encode_motion, **kwargs)
        self.decode = torch.compile(model.decode, **kwargs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--golden", type=Path, default=DEFAULT_GOLDEN, help="shared/reference folder")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--quick", action="store_true", help="smoke run: 64 px, batch 1 and 2")
    ap.add_argument("--compile", choices=("none", "default", "reduce-overhead"), default="none")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=270.0, help="seconds before skipping rows")
    args = ap.parse_args()
    t0 = time.perf_counter()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: CUDA is not available on this machine; nothing to measure.")
        print("(`--device cpu --quick` runs the same code on the CPU as a smoke test.)")
        return 0
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}; torch {torch.__version__}")
    else:
        print(f"device: {describe()}")

    folder = args.golden / "golden" if (args.golden / "golden").is_dir() else args.golden
    failed = False
    if (folder / "official_golden_64.pt").exists():
        rows = golden_rows(folder, device, args.quick)
        bad = [r for r in rows if not (r[1] < MEAN_TOL and r[2] < MAX_TOL)]
        worst = max(rows, key=lambda r: r[2])
        verdict = "ok" if not bad else "FAILED: " + ", ".join(r[0] for r in bad)
        print(
            f"golden float32 ({len(rows)} outputs, tolerances mean {MEAN_TOL:g} / max "
            f"{MAX_TOL:g}): {verdict}; worst max |diff| {worst[2]:.2e} ({worst[0]}), "
            f"largest mean {max(r[1] for r in rows):.2e}"
        )
        failed = bool(bad)
    else:
        print(f"golden: skipped, no golden files under {folder}")

    size = 64 if args.quick else 256
    batches = (1, 2) if args.quick else (1, 8, 32)
    repeats = 1 if args.quick else args.repeats
    if device.type == "cuda":
        precisions = ["float32", "tf32"]
        precisions += ["bf16"] if torch.cuda.is_bf16_supported() else []
        precisions += ["fp16"]
    else:
        precisions = ["float32"] + (["bf16"] if native_bf16(device) else [])
    torch.manual_seed(0)
    # the smoke run times a narrow model: it checks the code paths, not the speed
    config = LIAConfig(size=size, latent_dim=64, channel_multiplier=0.125, channel_max=64)
    model = LIA(config if args.quick else LIAConfig()).eval().requires_grad_(False).to(device)
    configs = [(p, b, None) for p in precisions for b in batches]
    if args.compile != "none":
        configs += [(f"bf16+{args.compile}", b, args.compile) for b in batches]
    print(f"\n{size} px, official architecture, random weights; ms per frame (best of {repeats})")
    print(
        f"{'precision':<24}{'batch':>6}{'encode':>10}{'decode':>10}{'animate':>10}{'peak MB':>10}"
    )
    compiled = None
    for precision, batch, mode in configs:
        if time.perf_counter() - t0 > args.budget:
            print(f"{precision:<24}{batch:>6}   skipped (over the {args.budget:.0f} s budget)")
            continue
        if mode and compiled is None:
            start = time.perf_counter()
            compiled = _Compiled(model, mode)
            warm = bench_config(model, size, batch, "bf16", device, 1, compiled)
            del warm
            print(f"  (torch.compile {mode}: first calls took {time.perf_counter() - start:.0f} s)")
        r = bench_config(
            model, size, batch, precision.split("+")[0], device, repeats, compiled if mode else None
        )
        print(
            f"{precision:<24}{batch:>6}{r['encode']:>10.2f}{r['decode']:>10.2f}"
            f"{r['animate']:>10.2f}{r['peak_mb']:>10.0f}",
            flush=True,
        )
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
