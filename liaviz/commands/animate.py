"""`liaviz animate`: animate a portrait with a driving video, streamed to mp4, GIF or PNG frames."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..numeric import MAX_BATCH, flag, integer, max_threads
from ..precision import PRECISIONS, choose_precision
from ._faces import CROPS, add_framing_options, framing_from
from ._mixer import add_mixer_options, check_mixer, resolve_mute

EPILOG = """\
examples:
  liaviz animate --checkpoint vox.pt --source portrait.png --driving talk.mp4 --out out.mp4
  liaviz animate --checkpoint vox.pt --source p.png --driving talk.mp4 --out out.gif \\
      --start best --side-by-side
  liaviz animate ... --edit 3=1.5 --edit 7=-2      # move the source along d3 and d7 first
  liaviz animate ... --mute 1,4 --motion-scale 0.5  # drop d1 and d4's motion, halve the rest
  liaviz animate ... --only pose                    # transfer the head motion, not expressions
  liaviz animate ... --source group.jpg --face 2    # the second largest face of the photo
  liaviz animate ... --no-paste-back                # write the face crop alone

Faces (--crop auto, the default): the source photo is cropped around its face as the model was
trained (eye-to-mouth 0.225 of the side, eyes at half height), the driving video at one fixed box
per shot (the union of the face's boxes, as the VoxCeleb clips were cut), and the result is
pasted back into the whole photo. A square input already framed like that, or a square input
with no face the detector sees (a cartoon), is used whole. --crop center takes the centre square.

Output: mp4 (H.264, same frame rate as the driving video), .gif, or any other name for a folder
of PNG frames. The file is written next to the target under a temporary name and renamed only
when the run succeeds (Ctrl-C and SIGTERM leave nothing behind). An mp4 keeps the driving
video's audio, cut to the animated frames (--no-audio drops it); GIFs and frame folders hold no
audio. A driving video with a variable frame rate keeps its frame times in mp4 and GIF output.
Pixels: the model output is clamped to [-1, 1] and mapped to 0-255 frame by frame (the official
demo rescales by the whole video's min/max instead).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "animate",
        help="animate a still image with a driving video",
        description="Transfer the motion of a driving video onto a source image (LIA, Sec. 3.4).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", required=True, help="official .pt, liaviz .safetensors or name")
    p.add_argument("--source", required=True, help="source image (png, jpg, ...)")
    p.add_argument("--driving", required=True, help="driving video (mp4, gif, or frame folder)")
    p.add_argument("--out", required=True, help="output .mp4, .gif, or folder for PNG frames")
    p.add_argument(
        "--mode",
        choices=("relative", "absolute"),
        default="relative",
        help="relative: keep the source's pose, add the driving motion (eq. 12, default); "
        "absolute: take the driving pose (eq. 11)",
    )
    p.add_argument(
        "--start",
        type=parse_start,
        default="first",
        help="relative mode's start frame: first (default), best (nearest the source's motion "
        "code) or a frame index",
    )
    p.add_argument(
        "--edit",
        action="append",
        metavar="I=V",
        default=[],
        help="add V to the source's magnitude along direction I (1-based, as --mute and "
        "`liaviz directions`) before animating (repeatable; I=V,I=V also works)",
    )
    p.add_argument(
        "--side-by-side", action="store_true", help="write source | driving | result frames"
    )
    p.add_argument(
        "--no-audio",
        action="store_true",
        help="do not copy the driving video's audio into an mp4 output (kept by default)",
    )
    add_model_options(p)
    add_face_options(p)
    add_mixer_options(p)
    add_precision_option(p)
    p.set_defaults(func=run)


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
    """--precision, shared by `animate` and `demo` (see ``liaviz.precision``)."""
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


def parse_start(text: str) -> str | int:
    if text in ("first", "best"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'first', 'best' or a frame index, got {text!r}"
        ) from None
    return value  # its range is animate.check_inputs' to check


def resolve_device(name: str):
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise UserError("--device mps: MPS is not available on this machine")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name}: unknown device (use auto, cpu, cuda or mps)") from None
    if device.type == "meta":  # shapes without data: nothing to compute on
        raise UserError(
            f"--device {name}: a meta device holds no data (use auto, cpu, cuda or mps)"
        )
    return device


def run(args: argparse.Namespace) -> int:
    from ..animate import animate_batches, check_inputs
    from ..checkpoint import load_model
    from ..io import (
        VideoWriter,
        check_not_an_input,
        frame_times,
        is_variable_rate,
        output_kind,
        read_image,
        to_tensor,
        video_info,
    )
    from ..runtime import DrivingVideo, parse_edit_text, source_crop

    # Cheap checks first (the library's own): a typo should not cost a model load.
    edit = parse_edit_text(",".join(args.edit)) or None
    mute, anatomy = check_mixer(args)
    framing = framing_from(args)
    out = Path(args.out)
    check_not_an_input(out, args.driving, args.source)
    source = read_image(args.source)
    info = video_info(args.driving)
    check_inputs(
        args.mode, args.start, args.batch_size, args.motion_scale, info.n_frames, args.driving
    )
    kind = output_kind(out)
    notes = []
    times = frame_times(args.driving)
    if not is_variable_rate(times):
        times = None
    elif kind == "frames":
        notes.append("the driving video has a variable frame rate; PNG frames store no timing")
    else:
        notes.append("variable frame rate: the driving video's frame times are kept")
    audio = None
    if info.has_audio:
        if kind != "mp4":
            notes.append(f"the driving video's audio is not kept (a {kind} output holds none)")
        elif args.no_audio:
            notes.append("the driving video's audio is left out (--no-audio)")
        else:
            audio = args.driving
    # checks the output folder exists
    writer = VideoWriter(out, info.rate or info.fps, times=times, audio_from=audio)
    device = resolve_device(args.device)
    apply_threads(args)
    model = load_model(args.checkpoint, device=device, size=args.size)
    size = model.config.size
    placed = source_crop(source, size, args.crop, face=args.face, framing=framing,
                         name=args.source)  # fmt: skip
    source_panel = placed.crop  # the source as the model sees it
    drive = DrivingVideo(args.driving, size, args.driving_crop or args.crop)
    crops = drive.crops(progress=not args.no_progress)  # the faces first: notes and errors
    if args.crop == "auto":
        notes.append(f"source: {placed.describe()}")
    if crops is not None:
        notes.append(f"driving: {crops.describe()}")
    paste = not (args.no_paste_back or placed.whole)
    if paste and args.side_by_side:
        paste = False
        notes.append("--side-by-side shows the model-size crops (no paste-back)")
    elif paste:
        h, w = source.shape[:2]
        notes.append(f"the animated face is pasted back into the {w}x{h} photo")
    mute = resolve_mute(args, model, source_panel, mute, anatomy)
    batches = animate_batches(
        model,
        to_tensor(source_panel),
        drive,
        mode=args.mode,
        start=args.start,
        batch_size=args.batch_size,
        edit=edit,
        precision=apply_precision(args, device),
        progress=not args.no_progress,
        mute=mute,
        motion_scale=args.motion_scale,
    )
    with writer:
        for batch in batches:
            for driving_frame, result in zip(batch.driving, batch.frames(), strict=True):
                if args.side_by_side:
                    result = np.concatenate([source_panel, driving_frame, result], axis=1)
                elif paste:
                    result = placed.paste(source, result)
                writer.write(result)
    what = "folder of PNG frames" if writer.kind == "frames" else writer.kind
    if audio is not None:
        notes.append(f"audio copied from {args.driving}, cut to {float(writer.seconds):.2f} s")
    rate = "variable frame rate" if times is not None else f"{info.fps:g} fps"
    print(
        f"wrote {out} ({what}): {writer.frames_written} frames at {rate}, {args.mode} mode",
        file=sys.stderr,
    )
    for note in notes:
        print(f"  {note}", file=sys.stderr)
    return 0
