"""Two passes over one raw video: find the faces, then cut the clips.

Pass one decodes every frame straight to detection size (at most ``VIDEO_MAX_SIDE``; the scaler
converts and shrinks in one step) and runs ``liaviz.faces.scan_clip`` on it: the same cuts and
detector as ``liaviz animate``. Pass two decodes again and converts only the crops of the frames
that go into a clip: for the usual yuv420p video, the crop's part of the three colour planes is
cut out first and then scaled and converted to RGB at the output size, so a 720p frame is never
converted whole. Neither pass holds more than a few frames.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..faces.detect import FaceDetector
from ..faces.framing import CropBox
from ..faces.track import VIDEO_MAX_SIDE, ClipScan, scan_clip
from ..io import MediaError, VideoInfo, VideoWriter, iter_av_frames, upright_turns, video_info
from .clips import ClipPlan
from .sources import PrepareError


class OutputError(PrepareError):
    """Writing a clip failed (a full disk, permissions): the run cannot go on."""


def scan_video(
    path: str | os.PathLike, detector: FaceDetector, every: int = 1, progress=None
) -> tuple[ClipScan, VideoInfo]:
    """The faces and cuts of a video file, in the coordinates of its upright frames."""
    info = video_info(path)
    factor = min(1.0, VIDEO_MAX_SIDE / max(info.width, info.height))
    small = (max(1, round(info.width * factor)), max(1, round(info.height * factor)))

    def frames():
        for frame in iter_av_frames(path):
            turns = upright_turns(frame)
            w, h = small[::-1] if turns % 2 else small  # stored sideways: scale it so
            image = frame.to_ndarray(format="rgb24", width=w, height=h)
            yield np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    scan = scan_clip(frames(), detector, progress, every)
    f = info.width / small[0]  # back to full size: pixel centres map as (x + 0.5) * f - 0.5
    scan.faces = [[face.scaled(f, 0.5 * f - 0.5, 0.5 * f - 0.5) for face in faces]
                  for faces in scan.faces]  # fmt: skip
    scan.shape = (info.height, info.width)
    return scan, info


def crop_frame(frame, box: CropBox, size: int) -> np.ndarray:
    """``box`` of a PyAV frame (upright coordinates) as uint8 RGB (size, size, 3)."""
    turns = upright_turns(frame)
    x0, y0, side = int(box.x0), int(box.y0), int(box.side)
    fast = (
        frame.format.name == "yuv420p"
        and turns == 0
        and frame.width % 2 == 0
        and frame.height % 2 == 0
        and box.inside(frame.width, frame.height)
        and x0 % 2 == 0 and y0 % 2 == 0 and side % 2 == 0 and box.x0 == x0 and box.y0 == y0
    )  # fmt: skip
    if not fast:  # convert the whole frame; CropBox.crop pads where the box leaves it
        image = frame.to_ndarray(format="rgb24")
        image = np.ascontiguousarray(np.rot90(image, turns)) if turns else image
        return box.crop(image, size)
    import av

    planes = frame.to_ndarray(format="yuv420p")  # Y (H rows), then U and V (H/4 rows each)
    h, w = frame.height, frame.width
    luma = planes[:h, x0 : x0 + side][y0 : y0 + side]
    chroma = [
        planes[h + k * h // 4 : h + (k + 1) * h // 4].reshape(h // 2, w // 2)[
            y0 // 2 : (y0 + side) // 2, x0 // 2 : (x0 + side) // 2
        ]
        for k in (0, 1)
    ]
    stacked = np.concatenate([luma.ravel(), chroma[0].ravel(), chroma[1].ravel()])
    cut = av.VideoFrame.from_ndarray(stacked.reshape(side * 3 // 2, side), format="yuv420p")
    cut.colorspace, cut.color_range = frame.colorspace, frame.color_range
    return cut.to_ndarray(format="rgb24", width=size, height=size)


def write_clips(
    path: str | os.PathLike,
    plans: list[ClipPlan],
    targets: list[Path],
    size: int,
    fps: float | Fraction,
) -> None:
    """Cut ``plans`` out of the video into ``targets`` (mp4 files or PNG folders), each written
    atomically: a clip is complete under its name, or absent. Decoding stops after the last
    clip. A problem reading the video is a ``MediaError``; one writing a clip an ``OutputError``."""
    if not plans:
        return
    last = max(p.end for p in plans)
    writers: dict[int, VideoWriter] = {}
    try:
        for index, frame in enumerate(iter_av_frames(path)):
            if index >= last:
                break
            for k, plan in enumerate(plans):
                if not plan.first <= index < plan.end:
                    continue
                image = crop_frame(frame, plan.box, size)
                try:
                    if k not in writers:
                        writers[k] = VideoWriter(targets[k], fps)
                    writers[k].write(image)
                    if index == plan.end - 1:
                        writers.pop(k).close()
                except MediaError as e:
                    raise OutputError(str(e)) from None
        if writers:  # the video ended before a clip did (it declared more frames than it has)
            raise MediaError(f"{path}: ended at frame {index + 1}, before the clips it showed")
    finally:
        for writer in writers.values():
            writer.abort()
