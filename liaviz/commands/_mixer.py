"""The motion mixer's command-line options, shared by `liaviz animate` (see ``liaviz.pipelines.animate``)."""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError
from ..numeric import flag, float32


def add_mixer_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("motion mixer")
    g.add_argument(
        "--mute",
        action="append",
        default=[],
        metavar="LIST",
        help="directions (1-based, comma-separated, repeatable) whose driving motion is not "
        "transferred: they keep the source's own magnitudes",
    )
    g.add_argument(
        "--motion-scale",
        type=flag(float32),
        default=1.0,
        metavar="S",
        help="multiply the transferred motion by S (default 1)",
    )
    g.add_argument(
        "--only",
        choices=("pose", "expression"),
        default=None,
        help="transfer only the directions dominated by global motion (pose) or the local ones "
        "(expression), as measured by `liaviz directions` on the source (2M decodes: tens of "
        "seconds at 256 px on a CPU) or read from --anatomy",
    )
    g.add_argument(
        "--anatomy", metavar="JSON", help="directions.json to take --only from (default: measure)"
    )


def parse_mute(items: list[str]) -> list[int]:
    """'1,3' '5' -> [1, 3, 5]; the range is checked against the model later."""
    out = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(int(part))
            except ValueError:
                raise UserError(
                    f"--mute expects direction numbers such as 1,3,5, got {item!r}"
                ) from None
    return out


def check_mixer(args: argparse.Namespace) -> tuple[list[int], object | None]:
    """The mixer options' own checks, before any model is loaded (the motion scale is checked by
    ``liaviz.pipelines.animate.check_inputs``): the parsed --mute list and the --anatomy file, read now so
    that a bad file fails before the model load (None without one)."""
    mute = parse_mute(args.mute)
    if args.anatomy and not args.only:
        raise UserError("--anatomy is only used with --only pose|expression")
    if not args.anatomy:
        return mute, None
    from ..analysis.anatomy import load_anatomy

    return mute, load_anatomy(args.anatomy)


def resolve_mute(args: argparse.Namespace, model, source, mute: list[int], anatomy) -> list[int]:
    """--mute plus the directions --only leaves out (from the --anatomy file, or measured on the
    source image as the model sees it)."""
    if not args.only:
        return mute
    from ..analysis.anatomy import analyze_directions, preset_mute

    if anatomy is None:
        anatomy = analyze_directions(model, [source])
    if len(anatomy.directions) != model.config.motion_dim:
        raise UserError(
            f"{args.anatomy}: describes {len(anatomy.directions)} directions, the model has "
            f"{model.config.motion_dim}"
        )
    preset = preset_mute(anatomy, args.only)
    shown = ", ".join(f"d{i}" for i in preset) or "none"
    print(f"--only {args.only}: muting {shown}", file=sys.stderr)
    return sorted(set(mute) | set(preset))
