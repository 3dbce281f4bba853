"""Command-line options shared by several commands, declared once: models and devices
(`animate`, `evaluate`, `directions`, `demo`), faces (`animate`, `crop`), the motion mixer
(`animate`), and integer flags (`synth`, `prepare`). Argparse only: what the options mean is the
library's (``liaviz.runtime``, ``liaviz.faces``, ``liaviz.analysis.mixer``)."""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError
from ..numeric import MAX_BATCH, MAX_FACES, flag, float32, integer, max_threads
from ..runtime.device import PRECISIONS, choose_precision

# ---- model, device, precision, threads ----------------------------------------------------------


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `animate` and `evaluate` (each adds its own --crop)."""
    p.add_argument(
        "--size",
        type=flag(integer, 16, 1024),
        default=None,
        help="model size the checkpoint must have",
    )
    p.add_argument(
        "--batch-size", type=flag(integer, 1, MAX_BATCH), default=None, help="frames per model call"
    )
    p.add_argument(
        "--device", default="auto", help="auto (default: cuda, then mps, then cpu), cpu, cuda, mps"
    )
    p.add_argument(
        "--threads",
        type=flag(integer, 1, max_threads()),
        default=None,
        help="CPU threads for torch (default: torch's choice; 1 is often faster on a busy machine)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_precision_option(p: argparse.ArgumentParser) -> None:
    """--precision, shared by `animate` and `demo` (see ``liaviz.runtime.device``)."""
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto (default): bfloat16 autocast where the device computes bf16 natively (CUDA "
        "with bf16, CPUs with AVX512-BF16/AMX), else float32. bfloat16 is preview quality; asked "
        "for on a device without bf16 units it runs in float32 with a warning",
    )


def apply_precision(args: argparse.Namespace, device) -> str:
    """The precision to run on ``device``; a turned-down bfloat16 request prints one line."""
    precision, reason = choose_precision(args.precision, device)
    if reason:
        print(f"liaviz {args.command}: warning: {reason}", file=sys.stderr, flush=True)
    return precision


def apply_threads(args: argparse.Namespace) -> None:
    """Honour --threads: this process is the application, so setting torch's pool is ours to do."""
    if args.threads is None:
        return
    if args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    import torch

    torch.set_num_threads(args.threads)


# ---- faces --------------------------------------------------------------------------------------

CROPS = ("auto", "center", "pad", "none")


def add_framing_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """--face and the framing overrides; returns the group, for commands that add more."""
    g = p.add_argument_group("faces")
    g.add_argument(
        "--face",
        type=flag(integer, 1, MAX_FACES),
        default=1,
        help="which face of the source photo: 1 = the largest",
    )
    g.add_argument(
        "--crop-scale",
        type=flag(float32),
        default=None,
        help="crop side x this (default 1: the rule's)",
    )
    g.add_argument(
        "--crop-vx", type=flag(float32), default=None, help="shift the crop right, in sides"
    )
    g.add_argument(
        "--crop-vy", type=flag(float32), default=None, help="shift the crop down, in sides"
    )
    return g


def framing_from(args: argparse.Namespace):
    """The ``Framing`` the options ask for; bad values are one-line errors."""
    from ..faces import Framing

    try:
        return Framing().with_overrides(scale=args.crop_scale, vx=args.crop_vx, vy=args.crop_vy)
    except ValueError as e:
        raise UserError(f"--crop-scale/--crop-vx/--crop-vy: {e}") from None


def add_face_options(p: argparse.ArgumentParser) -> None:
    """How the source photo and the driving video are cropped (``liaviz.faces``)."""
    g = add_framing_options(p)
    g.add_argument(
        "--crop",
        choices=CROPS,
        default="auto",
        help="auto (default): find the face and crop it as the model was trained; center: the "
        "centre square; pad: pad to a square; none: stretch. Applies to source and driving video",
    )
    g.add_argument(
        "--driving-crop",
        choices=CROPS,
        default=None,
        help="the same for the driving video only (default: as --crop)",
    )
    g.add_argument(
        "--no-paste-back",
        action="store_true",
        help="write the animated crop alone, not the whole photo with the face pasted back",
    )


# ---- the motion mixer ---------------------------------------------------------------------------


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
    ``liaviz.pipelines.animate.check_animate_inputs``): the parsed --mute list and the --anatomy file, read now so
    that a bad file fails before the model load (None without one)."""
    mute = parse_mute(args.mute)
    if args.anatomy and not args.only:
        raise UserError("--anatomy is only used with --only pose|expression")
    if not args.anatomy:
        return mute, None
    from ..analysis.anatomy import load_anatomy

    return mute, load_anatomy(args.anatomy)
