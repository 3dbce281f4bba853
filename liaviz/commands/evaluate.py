"""`liaviz evaluate`: same-identity reconstruction scores (L1, LPIPS) over a FOMM test split."""

from __future__ import annotations

import argparse
import sys
import warnings

from ..numeric import MAX_FRAMES, flag, integer
from .options import add_model_options, apply_threads

EPILOG = """\
protocol (the paper's Table 1): for every clip of the split, the first frame is the source and
every frame is driving, in absolute mode; L1 is the mean absolute error of [0, 1] images, per
clip, then averaged over clips, as LIA's official evaluation computes it.

LPIPS needs weights liaviz does not ship or download. Give local files with --lpips:
  torchvision's AlexNet (alexnet-owt-7be5be79.pth) and the lpips package's weights/v0.1/alex.pth,
  or one file holding a whole lpips.LPIPS(net='alex') state_dict.
Without them the report says LPIPS was not computed.

example:
  liaviz evaluate --checkpoint vox.pt --data vox/test --out report.json --csv report.csv \\
      --lpips alexnet-owt-7be5be79.pth alex.pth
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="same-identity reconstruction L1 / LPIPS over a test split",
        description="Reconstruct every test clip from its first frame and score it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", required=True, help="official .pt, liaviz .safetensors or name")
    p.add_argument("--data", required=True, help="test split: ROOT/test of a FOMM-layout dataset")
    p.add_argument("--out", help="write the report as JSON (or CSV if the name ends in .csv)")
    p.add_argument("--csv", help="also write per-clip scores as CSV")
    p.add_argument("--lpips", nargs="+", metavar="WEIGHTS", help="local LPIPS weight file(s)")
    p.add_argument("--dump-videos", metavar="DIR", help="write ground truth | result per clip")
    p.add_argument(
        "--max-clips",
        type=flag(integer, 1, 10**9),
        default=None,
        help="evaluate only the first N clips",
    )
    p.add_argument(
        "--max-frames",
        type=flag(integer, 1, MAX_FRAMES),
        default=None,
        help="use the first N frames of each",
    )
    add_model_options(p)
    p.add_argument(
        "--crop",
        choices=("center", "pad", "none"),
        default=None,
        help="how frames become square before the resize: center crop, pad, or stretch "
        "(default: stretch; dataset clips are crops already)",
    )
    p.set_defaults(func=run, outputs=("out", "csv", "dump_videos"))


def run(args: argparse.Namespace) -> int:
    from ..checkpoints.model import load_model
    from ..io.atomic import check_output_folder
    from ..pipelines.evaluate import LPIPS_NOT_GIVEN, check_evaluate_inputs, evaluate
    from ..pipelines.lpips import LPIPS
    from ..runtime.device import resolve_device

    # the library's own checks, before loading anything
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="skipping ")  # listed at the end instead
        split = check_evaluate_inputs(
            args.data, args.dump_videos, args.batch_size, args.max_clips, args.max_frames
        )
    for target in (args.out, args.csv):
        if target:
            check_output_folder(target)
    device = resolve_device(args.device, "--device")
    apply_threads(args)
    lpips = LPIPS.from_files(*args.lpips).to(device) if args.lpips else None
    model = load_model(args.checkpoint, device=device, size=args.size)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="skipping ")  # listed at the end instead
        report = evaluate(
            model,
            args.data,
            lpips=lpips,
            lpips_note=None if args.lpips else LPIPS_NOT_GIVEN,
            batch_size=args.batch_size,
            crop=args.crop or "none",
            max_clips=args.max_clips,
            max_frames=args.max_frames,
            dump_dir=args.dump_videos,
            progress=not args.no_progress,
            split=split,
        )
    report.protocol["checkpoint"] = str(args.checkpoint)
    if args.out:
        if args.out.lower().endswith(".csv"):
            report.write_csv(args.out)
        else:
            report.write_json(args.out)
    if args.csv:
        report.write_csv(args.csv)
    for c in report.clips:
        lp = "" if c.lpips is None else f"  LPIPS {c.lpips:.4f}"
        print(f"{c.name:<40} {c.n_frames:>6} frames  L1 {c.l1:.4f}{lp}")
    for s in report.skipped:
        print(f"skipped {s['clip']}: {s['error']}", file=sys.stderr)
    frames = sum(c.n_frames for c in report.clips)
    print(f"overall ({len(report.clips)} clips, {frames} frames): L1 {report.l1:.4f}")
    if report.lpips is None:
        print(f"LPIPS: {report.lpips_note}")
    else:
        print(f"LPIPS: {report.lpips:.4f}")
    return 0
