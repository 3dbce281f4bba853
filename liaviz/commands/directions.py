"""`liaviz directions CHECKPOINT --out DIR`: what each direction does, measured from the flows.

Writes DIR/directions.json (per direction: label, global shares, local share, region; plus the
diagnostics), DIR/directions.png (one row per direction) and DIR/magnitudes.png (the magnitudes
over time of the driving clips), and prints the table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..numeric import MAX_FRAMES, flag, float32, integer

EPILOG = """\
examples:
  liaviz directions embedded --out out/directions
  liaviz directions vox.pt --out out/vox --portrait me.jpg --portrait mona.png --driving talk.mp4

Without --portrait the sources are four synthetic faces (liaviz.data.synthetic); without
--driving the usage and magnitude plot come from two synthetic talking-head clips. Shares are
fractions of each direction's flow energy; see `liaviz.analysis.anatomy` for the method and label rules.
"""


OUTPUT_FILES = ("directions.json", "directions.png", "magnitudes.png")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "directions",
        help="measure what each motion direction does (anatomy, labels, diagnostics)",
        description=__doc__.split("\n\n")[0].strip(),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", help="official .pt, liaviz .safetensors or a bundled name")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--portrait", action="append", default=[], help="source image (repeatable)")
    p.add_argument(
        "--driving", action="append", default=[], help="clip for the usage statistics (repeatable)"
    )
    p.add_argument(
        "--frames",
        type=flag(integer, 2, MAX_FRAMES),
        default=48,
        help="frames per clip (default 48)",
    )
    p.add_argument(
        "--step", type=flag(float32), default=1.0, help="step h along each direction (default 1)"
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.anatomy import analyze_directions, direction_names, write_anatomy
    from ..analysis.diagnostics import anatomy_figure, magnitudes_figure, orthonormality_error
    from ..analysis.figures import save_figure
    from ..analysis.magnitudes import direction_variance, video_magnitudes
    from ..checkpoints.model import load_model
    from ..demo import sample_driving
    from ..io import read_image, read_video
    from ..io.atomic import check_not_a_guarded_input
    from ..runtime.device import resolve_device

    if not args.step > 0:
        raise UserError(f"--step must be positive, got {args.step}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    for name in OUTPUT_FILES:  # none of them may be an input (a portrait in that folder)
        check_not_a_guarded_input(out / name)
    # read the inputs before the model: a typo in a path should not cost a model load
    portraits = [read_image(p) for p in args.portrait]
    clips = {Path(p).stem: read_video(p, max_frames=args.frames) for p in args.driving}
    model = load_model(args.checkpoint, device=resolve_device(args.device, "--device"))
    size, m = model.config.size, model.config.motion_dim
    t0 = time.perf_counter()
    anatomy = analyze_directions(model, portraits or None, step=args.step)
    seconds = time.perf_counter() - t0
    if not clips:
        clips = {f"synthetic clip {i + 1}": sample_driving(size, args.frames, i) for i in range(2)}
    mags = video_magnitudes(model, clips)
    usage = direction_variance(mags)
    anatomy.diagnostics = {
        "orthonormality_error": orthonormality_error(model),
        "usage": [round(float(u), 6) for u in usage],
        "usage_clips": list(mags.names),
        "seconds": round(seconds, 2),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_anatomy(anatomy, out / "directions.json")
    save_figure(anatomy_figure(anatomy, usage), out / "directions.png", dpi=110)
    names = direction_names(anatomy, m)
    save_figure(magnitudes_figure(mags, names, top=min(8, m)), out / "magnitudes.png")
    print(_table(anatomy, usage))
    err = anatomy.diagnostics["orthonormality_error"]
    print(
        f"{args.checkpoint}: {m} directions at {size}x{size}, {anatomy.n_images} source(s), "
        f"{seconds:.1f} s; max |Q^T Q - I| = {err:.2e}; usage over {len(mags.names)} clip(s)\n"
        f"wrote {out / 'directions.json'}, directions.png, magnitudes.png",
        file=sys.stderr,
    )
    return 0


def _table(anatomy, usage) -> str:
    head = f"{'d':>3}  {'label':<28} {'tx':>5} {'ty':>5} {'rot':>5} {'scale':>5} {'local':>5}"
    lines = [head + "  region (x0 y0 x1 y1)      usage"]
    for d in anatomy.directions:
        s = d.shares
        region = " ".join(f"{v:.2f}" for v in d.region)
        lines.append(
            f"{d.index:>3}  {d.label:<28} {s['translate_x']:5.2f} {s['translate_y']:5.2f} "
            f"{s['rotate']:5.2f} {s['scale']:5.2f} {d.local:5.2f}  {region:<24} "
            f"{usage[d.index - 1]:8.3g}"
        )
    return "\n".join(lines)
