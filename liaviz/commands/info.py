"""`liaviz info CHECKPOINT`: what a checkpoint holds, without running it."""

from __future__ import annotations

import argparse
import json

from ..checkpoints.model import describe, load_checkpoint


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print a checkpoint's config, parameter counts and origin")
    p.add_argument("checkpoint", help="official LIA .pt, liaviz .safetensors, or a bundled name")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = describe(load_checkpoint(args.checkpoint))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"checkpoint: {info['path']}")
    print(f"format:     {info['format']}")
    print("config:")
    for key, value in info["config"].items():
        print(f"  {key:<20} {value}")
    print(f"  {'official widths':<20} {info['official_widths']}")
    print("parameters:")
    for part, count in info["parameters"].items():
        print(f"  {part:<20} {count:>12,}")
    if info["other_keys"]:
        print(f"also in the file (ignored): {', '.join(info['other_keys'])}")
    for key, value in info["metadata"].items():
        print(f"{key}: {value}")
    return 0
