"""End-to-end animation speed and memory: `liaviz animate` against an official-style loop.

    python benchmarks/bench_animate.py [--frames 200] [--rss-frames 100 600] [--size 256]
                                       [--threads N] [--precision auto|float32|bfloat16]
                                       [--official-code PATH/TO/LIA]

Official architecture with random weights (a checkpoint file is written to a temporary folder),
driving video = the first N frames of ../shared/data/driving1.mp4 (looped when N is larger;
synthetic frames when the sample is absent), source = mona_lisa.png.

1. Speed: `liaviz animate` end to end (the real command: checkpoint load, video decode, model,
   H.264 encode) against a per-frame loop written the way the official demo works, with the
   same liaviz modules: the whole driving video decoded into one float tensor first, the source
   re-encoded for every frame, batch 1, every output kept until the end, then normalised by the
   whole video's min/max and written. Reported as seconds per frame and the ratio.
2. Memory: peak RSS of `liaviz animate` for two video lengths; the ratio should be about 1.

Each run is a fresh child process, so peak RSS (ru_maxrss) belongs to that run alone. Wall time
depends on what else the machine runs; the CPU seconds are printed beside it. On a machine
shared with other jobs, `--threads 1` avoids OpenMP threads spin-waiting for a busy core.
The memory pair also gives the steady per-frame cost: their difference cancels the fixed
costs (imports, checkpoint load, first-call set-up).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
DATA = HERE.parents[2] / "shared" / "data"


# ---- children -----------------------------------------------------------------------------------


def _child_liaviz(a: argparse.Namespace) -> dict:
    from liaviz.cli import main

    argv = ["animate", "--checkpoint", a.ckpt, "--source", a.source, "--driving", a.video]
    argv += ["--out", a.out, "--no-progress", "--precision", a.precision]
    if a.threads:
        argv += ["--threads", str(a.threads)]
    t, c = time.perf_counter(), time.process_time()
    rc = main(argv)
    if rc != 0:
        raise SystemExit(rc)
    return {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}


def _child_official(a: argparse.Namespace) -> dict:
    """The official run_demo.py's structure, written with liaviz modules."""
    import torch

    from liaviz import load_model
    from liaviz.io import VideoWriter, prepare, read_image, read_video, to_tensor

    if a.threads:
        torch.set_num_threads(a.threads)
    t, c = time.perf_counter(), time.process_time()
    model = load_model(a.ckpt)
    size = model.config.size
    source = to_tensor(prepare(read_image(a.source), size))
    # the whole video as one float tensor, as torchvision.io.read_video + normalisation does
    video = to_tensor(np.stack([prepare(f, size) for f in read_video(a.video)]))
    outputs = []
    with torch.no_grad():
        alpha_start = model.encode_motion(video[:1])  # h_start, once
        for i in range(video.shape[0]):
            state = model.encode_source(source)  # the source re-encoded for every frame
            alpha = model.encode_motion(video[i : i + 1])
            outputs.append(model.decode(state, model.relative_latent(state, alpha, alpha_start)))
    result = torch.cat(outputs)
    lo, hi = result.min(), result.max()  # the official save_video: whole-video min/max
    frames = ((result - lo) / (hi - lo) * 255).round().clamp(0, 255).byte().permute(0, 2, 3, 1)
    with VideoWriter(a.out, fps=10) as w:
        w.write_many(frames.numpy())
    return {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}


def child(a: argparse.Namespace) -> None:
    result = _child_liaviz(a) if a.child == "liaviz" else _child_official(a)
    # ru_maxrss is in KiB on Linux
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


# ---- driver -------------------------------------------------------------------------------------


def make_inputs(folder: Path, size: int, counts: list[int], seed: int = 0):
    import torch

    from liaviz import LIA, LIAConfig, save_model
    from liaviz.io import VideoWriter, iter_video, read_image, write_image

    torch.manual_seed(seed)
    ckpt = folder / f"official_random_{size}.safetensors"
    save_model(LIA(LIAConfig(size=size)), ckpt)
    source = folder / "source.png"
    if (DATA / "mona_lisa.png").exists():
        write_image(source, read_image(DATA / "mona_lisa.png"))
        frames = list(iter_video(DATA / "driving1.mp4"))
    else:
        sys.path.insert(0, str(HERE.parents[1]))
        from tests._media import moving_frames

        frames = list(moving_frames(120, 256))
        write_image(source, frames[0])
    videos = {}
    for n in sorted(set(counts)):
        path = folder / f"driving_{n}.mp4"
        with VideoWriter(path, fps=10) as w:
            for i in range(n):
                w.write(frames[i % len(frames)])
        videos[n] = path
    return ckpt, source, videos


def run_child(kind: str, ckpt, source, video, out, a) -> dict:
    cmd = [sys.executable, str(HERE), "--child", kind, "--ckpt", str(ckpt), "--source", str(source)]
    cmd += ["--video", str(video), "--out", str(out), "--precision", a.precision]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{r.stderr}")
    line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def _official_step(a: argparse.Namespace, ckpt: Path, liaviz_row: dict) -> None:
    """The official per-frame step, timed in this process right after the liaviz run."""
    import torch
    from _official import load_official, official_step_s

    from liaviz import load_model

    if a.threads:
        torch.set_num_threads(a.threads)
    step = official_step_s(load_official(a.official_code, load_model(ckpt)), a.size, 3)
    per_frame = liaviz_row["wall"] / a.frames
    print(
        f" official demo step (its Generator, batch 1, best of 3): {step:.3f} s/frame; "
        f"liaviz animate end to end is {step / per_frame:.2f}x faster per frame"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--frames", type=int, default=200, help="driving frames for the speed runs")
    p.add_argument("--rss-frames", type=int, nargs=2, default=[100, 600], metavar=("SHORT", "LONG"))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="float32")
    p.add_argument("--skip-official", action="store_true", help="no official-style run")
    p.add_argument(
        "--official-code",
        type=Path,
        help="a checkout of the official LIA code: also time its per-frame demo step (its "
        "Generator forward, batch 1) with the same weights, and compare",
    )
    p.add_argument("--skip-rss", action="store_true", help="no memory runs")
    p.add_argument("--child", choices=("liaviz", "official"), help=argparse.SUPPRESS)
    for name in ("ckpt", "source", "video", "out"):
        p.add_argument(f"--{name}", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a)
        return

    with tempfile.TemporaryDirectory(prefix="bench_animate_") as tmp:
        tmp = Path(tmp)
        short, long = a.rss_frames
        ckpt, source, videos = make_inputs(tmp, a.size, [a.frames, short, long])
        print(
            f"size {a.size}, official architecture, random weights, {a.precision}, "
            f"threads {a.threads or 'default'}, {os.cpu_count()} CPUs"
        )
        rows = {}
        rows["liaviz"] = run_child("liaviz", ckpt, source, videos[a.frames], tmp / "l.mp4", a)
        if not a.skip_official:
            rows["official"] = run_child(
                "official", ckpt, source, videos[a.frames], tmp / "o.mp4", a
            )
        for name, r in rows.items():
            print(
                f"{name:>9} {a.frames} frames: {r['wall'] / a.frames:.3f} s/frame wall "
                f"({r['cpu'] / a.frames:.3f} CPU s/frame), peak RSS {r['peak_rss_mb']:.0f} MB"
            )
        if "official" in rows:
            speedup = rows["official"]["wall"] / rows["liaviz"]["wall"]
            cpu_speedup = rows["official"]["cpu"] / rows["liaviz"]["cpu"]
            print(
                f"speed ratio liaviz / official-style: {speedup:.2f}x wall, {cpu_speedup:.2f}x CPU"
            )
        if a.official_code:
            _official_step(a, ckpt, rows["liaviz"])
        if a.skip_rss:
            return
        mem = {}
        for n in (short, long):
            mem[n] = run_child("liaviz", ckpt, source, videos[n], tmp / f"m{n}.mp4", a)
        for n, r in mem.items():
            print(
                f"   liaviz {n} frames: peak RSS {r['peak_rss_mb']:.0f} MB, "
                f"{r['wall'] / n:.3f} s/frame wall ({r['cpu'] / n:.3f} CPU)"
            )
        ratio = mem[long]["peak_rss_mb"] / mem[short]["peak_rss_mb"]
        print(f"peak RSS ratio {long} / {short} frames: {ratio:.3f} (flat = 1)")
        # The difference of the two runs cancels the fixed costs (imports, checkpoint load,
        # first-call set-up): the steady cost of one more frame, end to end.
        marginal = (mem[long]["wall"] - mem[short]["wall"]) / (long - short)
        marginal_cpu = (mem[long]["cpu"] - mem[short]["cpu"]) / (long - short)
        print(f"steady state: {marginal:.3f} s/frame wall ({marginal_cpu:.3f} CPU s/frame)")


if __name__ == "__main__":
    main()
