"""`liaviz crop IMAGE_OR_VIDEO --out DIR`: see the crop the model will get, before animating."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..numeric import flag, integer
from .options import add_framing_options, framing_from

EPILOG = """\
examples:
  liaviz crop photo.jpg --out crops/          # crops/crop.png and crops/overlay.png
  liaviz crop group.jpg --out crops/ --face 2  # the second largest face
  liaviz crop talk.mp4 --out crops/           # crops/crop.mp4 and crops/overlay.mp4

An image gets the rule's crop (eye-to-mouth 0.225 of the side, eyes at half height), as
`liaviz animate --crop auto` makes it for a source; a video gets one fixed crop per shot, as for
a driving video. The overlay shows the crop box (yellow), the chosen face (green, with its five
landmarks) and the other faces (red, numbered as --face counts them).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "crop",
        help="write the face crop(s) the model would get, and an overlay of box and landmarks",
        description="Find the face and write the crop `liaviz animate --crop auto` would use.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="an image, or a video (mp4, gif, frame folder)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (made if missing)")
    p.add_argument(
        "--size",
        type=flag(integer, 16, 4096),
        default=256,
        help="crop size in pixels (default 256)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_framing_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import UserError
    from ..io import IMAGE_SUFFIXES, check_not_an_input

    framing = framing_from(args)
    source = Path(args.input)
    if not source.exists():
        raise UserError(f"{source}: no such file or folder")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    is_image = source.is_file() and source.suffix.lower() in IMAGE_SUFFIXES
    names = ("crop.png", "overlay.png") if is_image else ("crop.mp4", "overlay.mp4")
    for name in names:
        check_not_an_input(out / name, source)
    if is_image:
        lines = _crop_image(source, out, args.size, args.face, framing)
    else:
        lines = _crop_video(source, out, args.size, not args.no_progress)
    for line in lines:
        print(line, file=sys.stderr)
    return 0


def _crop_image(source: Path, out: Path, size: int, face: int, framing) -> list[str]:
    from ..faces import align
    from ..faces.overlay import draw_crop
    from ..io import read_image, write_image

    image = read_image(source)
    placed = align(image, size, face=face, framing=framing, name=str(source))
    faces = list(placed.faces)  # as detected; the crop's own face is their number-th, refined
    chosen = faces[placed.number - 1] if placed.face is not None else None
    out.mkdir(parents=True, exist_ok=True)
    write_image(out / "crop.png", placed.crop)
    write_image(out / "overlay.png", draw_crop(image, placed.box, faces, chosen))
    return [
        f"wrote {out / 'crop.png'} ({size}x{size}) and {out / 'overlay.png'}",
        f"  {source.name}: {placed.describe()}",
    ]


def _crop_video(source: Path, out: Path, size: int, progress: bool) -> list[str]:
    from ..faces.overlay import draw_crop
    from ..io import VideoWriter, iter_video, video_info
    from ..runtime.driving import DrivingVideo

    info = video_info(source)
    drive = DrivingVideo(source, size, "auto")
    crops = drive.crops(progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    fps = info.rate or info.fps
    with VideoWriter(out / "crop.mp4", fps) as writer:
        for frames, _ in drive.batches(16, tensors=False):
            for frame in frames:
                writer.write(frame)
    scan = drive.scan
    with VideoWriter(out / "overlay.mp4", fps) as writer:
        for index, frame in enumerate(iter_video(source)):
            faces = scan.faces[index] if index < scan.n_frames else []
            box = None if crops.whole else crops.box(index)
            writer.write(draw_crop(frame, box, faces, faces[0] if faces else None))
    return [
        f"wrote {out / 'crop.mp4'} ({size}x{size}, {writer.frames_written} frames) and "
        f"{out / 'overlay.mp4'}",
        f"  {source.name}: {crops.describe()}",
    ]
