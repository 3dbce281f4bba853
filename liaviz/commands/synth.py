"""`liaviz synth --out DIR`: write a synthetic talking-face dataset with ground-truth motion."""

from __future__ import annotations

import argparse

from ..numeric import MAX_FRAMES, MAX_SEED, MAX_VIDEOS, MAX_WORKERS, flag, integer


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="write a synthetic talking-face dataset (FOMM layout, with per-frame motion factors)",
        description=(
            "Render cartoon talking faces with known motion into DIR/{train,test}/<video>/ "
            "(lossless PNG frames, factors.csv, identity.json) plus DIR/synth.json. Every video "
            "is a new person; the same arguments give the same bytes."
        ),
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (new or empty)")
    p.add_argument(
        "--videos",
        type=flag(integer, 1, MAX_VIDEOS),
        default=400,
        metavar="N",
        help="number of videos, train and test together (default 400)",
    )
    p.add_argument(
        "--frames",
        type=flag(integer, 2, MAX_FRAMES),
        default=64,
        metavar="T",
        help="frames per video (default 64)",
    )
    p.add_argument(
        "--size",
        type=flag(integer, 16, 4096),
        default=64,
        metavar="S",
        help="frame size in pixels (default 64)",
    )
    p.add_argument(
        "--seed",
        type=flag(integer, 0, MAX_SEED),
        default=0,
        metavar="K",
        help="random seed (default 0)",
    )
    p.add_argument(
        "--test-videos",
        type=flag(integer, 0, MAX_VIDEOS),
        default=None,
        metavar="M",
        help="how many of the N videos form the test split (default: 10%%, at least 1)",
    )
    p.add_argument(
        "--workers",
        type=flag(integer, 1, MAX_WORKERS),
        default=None,
        metavar="W",
        help="worker processes (default: one per CPU, at most 8); the output does not depend on it",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a dataset already in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.synthetic import write_dataset

    manifest = write_dataset(
        args.out,
        n_videos=args.videos,
        n_frames=args.frames,
        size=args.size,
        seed=args.seed,
        n_test=args.test_videos,
        workers=args.workers,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    v = manifest["videos"]
    print(
        f"wrote {v['train']} train + {v['test']} test videos of {args.frames} frames "
        f"at {args.size}x{args.size} to {args.out}"
    )
    return 0
