"""`liaviz prepare RAW --out DATA`: raw videos to a FOMM-layout dataset of face clips."""

from __future__ import annotations

import argparse
import sys

from ..numeric import MAX_FRAMES, MAX_SEED, MAX_WORKERS, flag, integer

EPILOG = """\
how the clips are made (as the VoxCeleb crops were): faces are detected on frames shrunk to
640 px; a face track ends at a shot cut, when the face is lost, or when its box overlaps its
first box by IoU 0.25 or less. Each track gives one clip through one fixed crop: the square
union of its face boxes grown by --margin of its side on each side, resized to --size.
The split is by source video (or by folder, --split-by folder), from a seeded hash of its path
under RAW: the same videos always get the same split, whichever shard they are in.

output: DATA/{train,test}/<clip>.mp4 (or PNG frame folders), DATA/manifest.csv (per clip: source,
frame range and times, crop box, mean face size, split), DATA/prepare.json (the options) and
DATA/sources/<video>.json (one per finished video: a rerun with --resume skips it).

examples:
  liaviz prepare raw/ --out data/mine --workers 2
  liaviz prepare raw/ --out data/shard-3 --shard 3/16 --resume     # one job of 16
  liaviz prepare --merge data/shard-* --out data/mine              # join the shards
"""


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="cut raw videos into a training set of face clips (FOMM layout, as VoxCeleb)",
        description="Detect and track the faces of raw videos and cut one fixed-crop clip per "
        "face track into DATA/{train,test}/, with a manifest.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "raw", nargs="?", metavar="RAW", help="a folder of videos, or a text file listing them"
    )
    p.add_argument("--out", required=True, metavar="DATA", help="output folder (new or empty)")
    p.add_argument(
        "--merge", nargs="+", metavar="SHARD", help="join these prepared folders into DATA instead"
    )
    p.add_argument(
        "--size",
        type=flag(integer, 16, 4096),
        default=256,
        metavar="S",
        help="clip side in pixels (default 256)",
    )
    p.add_argument(
        "--margin",
        type=_share,
        default=None,
        metavar="M",
        help="the crop grows by M of its side on each side (default 0.1)",
    )
    p.add_argument(
        "--min-frames",
        type=flag(integer, 2, MAX_FRAMES),
        default=64,
        metavar="T",
        help="drop shorter tracks (default 64)",
    )
    p.add_argument(
        "--min-side",
        type=flag(integer, 1, 65536),
        default=None,
        metavar="PX",
        help="drop crops smaller than PX source pixels (default: --size)",
    )
    p.add_argument(
        "--pad", action="store_true", help="keep crops that leave the frame (edge pixels repeated)"
    )
    p.add_argument(
        "--format",
        choices=("mp4", "png"),
        default="mp4",
        help="clip files: mp4 (default) or PNG frame folders",
    )
    p.add_argument(
        "--test-share",
        type=_share,
        default=0.1,
        metavar="P",
        help="share of the videos in the test split (default 0.1)",
    )
    p.add_argument(
        "--split-by",
        choices=("video", "folder"),
        default="video",
        help="keep each video (default) or each folder of RAW in one split",
    )
    p.add_argument(
        "--seed", type=flag(integer, 0, MAX_SEED), default=0, help="seed of the split (default 0)"
    )
    p.add_argument(
        "--detect-every",
        type=flag(integer, 1, MAX_FRAMES),
        default=None,
        metavar="K",
        help="run the detector on every K-th frame of a shot and interpolate (default 5; 1: every frame)",
    )
    p.add_argument(
        "--shard",
        default=None,
        metavar="K/N",
        help="only the videos of shard K of N (K from 0), by a stable hash",
    )
    p.add_argument(
        "--workers",
        type=flag(integer, 1, MAX_WORKERS),
        default=1,
        metavar="W",
        help="videos in parallel, one process each (default 1)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue a dataset in DATA, skipping finished videos"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..prepare import (
        DETECT_EVERY,
        Options,
        PrepareError,
        Rules,
        merge,
        parse_shard,
        prepare_dataset,
    )

    if args.merge:
        if args.raw is not None:
            raise PrepareError("give either RAW or --merge SHARD..., not both")
        totals = merge(args.merge, args.out, resume=args.resume)
        print(f"merged {len(args.merge)} folders into {args.out}: {totals.describe()}")
        return 0
    if args.raw is None:
        raise PrepareError("give RAW, a folder of videos or a text file listing them")
    rules = Rules(size=args.size, min_frames=args.min_frames, min_side=args.min_side, pad=args.pad)
    if args.margin is not None:
        rules = Rules(**{**rules.__dict__, "margin": args.margin})
    options = Options(
        rules=rules,
        format=args.format,
        test_share=args.test_share,
        seed=args.seed,
        group=args.split_by,
        detect_every=args.detect_every or DETECT_EVERY,
    )
    outcome = prepare_dataset(
        args.raw,
        args.out,
        options,
        shard=parse_shard(args.shard) if args.shard else None,
        workers=args.workers,
        resume=args.resume,
        progress=not args.quiet,
        report=lambda line: print(f"liaviz prepare: {line}", file=sys.stderr),
    )
    totals = outcome.totals
    print(
        f"{args.out}: {totals.describe()} ({outcome.done_now} videos done now, "
        f"{outcome.skipped} already done)"
    )
    if outcome.failed:
        raise PrepareError(
            f"{len(outcome.failed)} video(s) could not be read (listed above); the others are in "
            f"{args.out}, and --resume retries those"
        )
    if not sum(totals.clips.values()):
        raise PrepareError(
            f"no clip came out of {totals.videos} video(s): no face found, or every track was "
            "dropped (see the counts above; --min-frames, --min-side and --pad relax the rules)"
        )
    return 0
