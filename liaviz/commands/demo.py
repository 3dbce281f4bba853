"""`liaviz demo --out out/demo`: the explorer's results rendered headless, with an index.html.

Uses the bundled model (or a small random-weight model, with a warning, when this install has
none; or ``--checkpoint`` such as the official vox.pt), the Mona Lisa that ships with liaviz (or
``--image``) and synthetic talking-head clips (or ``--driving``). Nothing is downloaded. The
page is one file that can be shared alone; the directions are shown most important first.
This command is argparse only: the work is ``liaviz.demo.build``.
"""

from __future__ import annotations

import argparse

from ..numeric import MAX_FRAMES, flag, integer
from .options import add_precision_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="render the explorer's views headless into a folder with an index.html",
        description=__doc__.split("\n\n")[0].strip(),
    )
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument(
        "--checkpoint",
        help="model to explore: a checkpoint path (e.g. vox.pt) or bundled name "
        "(default: embedded, the bundled model trained on synthetic faces)",
    )
    p.add_argument("--image", help="source portrait (default: the Mona Lisa, shipped with liaviz)")
    p.add_argument(
        "--photo",
        help="a whole photo whose face is animated in place (default: NASA's astronaut "
        "portrait, shipped with liaviz)",
    )
    p.add_argument(
        "--driving",
        action="append",
        help="driving video (repeat for several; default: two synthetic talking-head clips)",
    )
    p.add_argument(
        "--frames",
        type=flag(integer, 2, MAX_FRAMES),
        default=48,
        help="frames per driving clip (default 48)",
    )
    p.add_argument(
        "--top",
        type=flag(integer, 1, 1024),  # the most directions a model has (LIAConfig.LIMITS)
        default=4,
        help="directions shown large and animated (default 4)",
    )
    add_precision_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import build

    build(
        args.checkpoint,
        args.out,
        image=args.image,
        photo=args.photo,
        driving=args.driving,
        frames=args.frames,
        top=args.top,
        precision=args.precision,
        progress=True,
    )
    return 0
