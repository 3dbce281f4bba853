"""`liaviz export INPUT OUTPUT`: a generator for inference from a training checkpoint or model file.

INPUT is a liaviz training checkpoint (``RUN/checkpoints/ckpt_*.pt``), a liaviz ``.safetensors``
model or an official LIA ``.pt``. OUTPUT ending in ``.safetensors`` gets liaviz's format (weights
plus config, what ``liaviz.load_model`` and the explorer open); ending in ``.pt`` it gets the
official layout ``{'gen': state_dict}``, which the official LIA code loads, possible only for
models of the official widths.
"""

from __future__ import annotations

import argparse

from ..checkpoints.export import FORMATS, WEIGHTS, export_generator


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a generator for inference (liaviz safetensors or official .pt)",
        description=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("input", help="training checkpoint, liaviz .safetensors or official .pt")
    p.add_argument("output", help="OUTPUT.safetensors (liaviz) or OUTPUT.pt (official layout)")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="output layout (default: from the output's extension)",
    )
    p.add_argument(
        "--weights",
        choices=WEIGHTS,
        default="auto",
        help="from a training checkpoint: the EMA generator or the trained one "
        "(default: EMA when the checkpoint has it)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(export_generator(args.input, args.output, args.format, args.weights).summary())
    return 0
