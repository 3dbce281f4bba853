"""Reading videos: files (PyAV), GIFs (Pillow) and folders of PNG/JPEG frames (the FOMM dataset
layout), streamed one frame at a time.

PyAV gives the exact frame count and frame rate, turns frames upright by the rotation tag phones
write, and each file is checked against the frame count it declares, so a truncated file is an
error rather than a short video. ``frame_times`` gives each frame's timestamp, for variable frame
rate clips. Every problem with a file is a ``MediaError`` naming the file in one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import first_line
from .images import IMAGE_SUFFIXES, MediaError, _pil_to_rgb, read_image

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".gif")
# Frame rate given to a folder of frames, which stores none (FOMM datasets are ~25 fps).
FOLDER_FPS = 25.0


@dataclass(frozen=True)
class VideoInfo:
    """What a driving video holds. ``rate`` is the exact frame rate as a fraction."""

    fps: float
    n_frames: int
    width: int  # as displayed: a rotation tag of 90 or 270 degrees swaps the stored sizes
    height: int
    rate: Fraction | None = None
    has_audio: bool = False

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps if self.fps else 0.0


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frame folder, in natural name order: numbers by their value, so
    ``1.png, 2.png, 10.png`` play in that order as ``0001.png, 0002.png, 0010.png`` do."""
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


def natural_key(name: str) -> tuple:
    """Sort key: runs of ASCII digits compare as numbers, the rest as text; the name itself
    breaks ties (``01`` and ``1``)."""
    parts = re.split(r"([0-9]+)", name)  # text, number, text, ...: the same types line up
    return tuple(int(t) if i % 2 else t for i, t in enumerate(parts)), name


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, exact frame count and size of a video file, GIF or frame folder.

    A frame count the container does not store is counted from the packets (no decoding).
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such file or folder")
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise MediaError(f"{path}: folder holds no frames (*.png, *.jpg)")
        first = read_image(files[0])
        rate = Fraction(FOLDER_FPS).limit_denominator(1001)
        return VideoInfo(FOLDER_FPS, len(files), first.shape[1], first.shape[0], rate)
    if path.suffix.lower() == ".gif":
        return _gif_info(path)
    return _av_info(path)


def _av_info(path: Path) -> VideoInfo:
    import av

    try:
        with _open_av(path) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            n = stream.frames
            width, height = stream.codec_context.width, stream.codec_context.height
            has_audio = bool(container.streams.audio)
            first = next(container.decode(stream), None)
            if first is not None and _quarter_turns(first.rotation) % 2:
                width, height = height, width
        if not n:  # e.g. mkv/webm store no count: count the packets that carry a frame
            with av.open(str(path)) as container:
                n = sum(1 for p in container.demux(container.streams.video[0]) if p.size)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as e:
        raise MediaError(f"{path}: corrupt or unreadable video ({first_line(e)})") from None
    if n <= 0:
        raise MediaError(f"{path}: video has no frames")
    rate = Fraction(rate) if rate else None
    fps = float(rate) if rate else 25.0
    return VideoInfo(fps, int(n), int(width), int(height), rate, has_audio)


def _open_av(path: Path):
    """An open PyAV container that holds a video stream (MediaError otherwise)."""
    import av

    container = av.open(str(path))
    try:
        if not container.streams.video:
            raise MediaError(f"{path}: video has no frames (no video stream in the file)")
        codec = container.streams.video[0].codec_context.name
        if container.format.name == "tty" or codec == "ansi":  # ffmpeg shows text as ANSI art
            raise MediaError(f"{path}: not a video or image (it looks like a text file)")
    except BaseException:
        container.close()
        raise
    return container


def _quarter_turns(rotation: float | None) -> int:
    """Counter-clockwise quarter turns that make a frame upright, from its display matrix."""
    return int(round((rotation or 0) / 90.0)) % 4


def frame_times(path: str | os.PathLike) -> list[Fraction] | None:
    """When each frame of a video file or GIF is shown, in seconds from the first frame (exact
    fractions), read from the container without decoding. None for a frame folder (which stores
    no timing) or a file whose packets carry no timestamps."""
    path = Path(path)
    if path.is_dir():
        return None
    if path.suffix.lower() == ".gif":
        try:
            with Image.open(path) as im:
                t, times = Fraction(0), []
                for i in range(getattr(im, "n_frames", 1)):
                    im.seek(i)
                    times.append(t)
                    t += Fraction(int(im.info.get("duration", 100) or 100), 1000)
        except (OSError, ValueError, SyntaxError, EOFError) as e:
            raise MediaError(f"{path}: corrupt or unreadable GIF ({first_line(e)})") from None
        return times
    import av

    try:
        with _open_av(path) as container:
            stream = container.streams.video[0]
            base = stream.time_base
            pts = [p.pts for p in container.demux(stream) if p.size]
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as e:
        raise MediaError(f"{path}: corrupt or unreadable video ({first_line(e)})") from None
    if not pts or any(p is None for p in pts) or base is None:
        return None
    pts.sort()
    return [Fraction(p - pts[0]) * base for p in pts]


def is_variable_rate(times: list[Fraction] | None) -> bool:
    """Whether frame ``times`` are irregular: some frame lasts over 1.5x or under 2/3 of the
    median duration (timestamp rounding in a constant-rate file stays well inside that)."""
    if not times or len(times) < 3:
        return False
    durations = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    median = durations[len(durations) // 2]
    return median > 0 and (durations[-1] > median * 3 / 2 or durations[0] < median * 2 / 3)


def _gif_info(path: Path) -> VideoInfo:
    try:
        with Image.open(path) as im:
            n = getattr(im, "n_frames", 1)
            durations = []
            for i in range(min(n, 50)):
                im.seek(i)
                durations.append(im.info.get("duration", 100) or 100)
            width, height = im.size
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise MediaError(f"{path}: corrupt or unreadable GIF ({first_line(e)})") from None
    ms = float(np.median(durations))
    return VideoInfo(1000.0 / ms, int(n), width, height, Fraction(1000, int(round(ms))))


def iter_video(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Stream the frames of a video file, GIF or frame folder as uint8 RGB (H, W, 3).

    Only the current frame is held in memory. A file that cannot be opened or decoded, or that
    yields no frame at all, raises ``MediaError``.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such file or folder")
    if path.is_dir():
        frames = _iter_folder(path)
    elif path.suffix.lower() == ".gif":
        frames = _iter_gif(path)
    else:
        frames = _iter_av(path)
    count = 0
    for frame in frames:
        count += 1
        yield frame
    if count == 0:
        raise MediaError(f"{path}: video has no frames")


def _iter_folder(path: Path) -> Iterator[np.ndarray]:
    files = frame_files(path)
    if not files:
        raise MediaError(f"{path}: folder holds no frames (*.png, *.jpg)")
    shape = None
    for f in files:
        frame = read_image(f)
        if shape is not None and frame.shape != shape:
            raise MediaError(
                f"{f}: frame size {frame.shape[1]}x{frame.shape[0]} differs from "
                f"the first frame's {shape[1]}x{shape[0]}"
            )
        shape = frame.shape
        yield frame


def _iter_gif(path: Path) -> Iterator[np.ndarray]:
    try:
        with Image.open(path) as im:
            for i in range(getattr(im, "n_frames", 1)):
                im.seek(i)
                yield _pil_to_rgb(im.convert("RGBA"))
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise MediaError(f"{path}: corrupt or unreadable GIF ({first_line(e)})") from None


def _iter_av(path: Path) -> Iterator[np.ndarray]:
    """Decode with PyAV, frames turned upright by their display matrix (phone videos store
    sideways frames and a rotation tag)."""
    for frame in iter_av_frames(path):
        image = frame.to_ndarray(format="rgb24")
        turns = _quarter_turns(frame.rotation)
        yield np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def upright_turns(frame) -> int:
    """Counter-clockwise quarter turns (``np.rot90``) that make a PyAV frame upright."""
    return _quarter_turns(frame.rotation)


def iter_av_frames(path: str | os.PathLike) -> Iterator:
    """The decoded PyAV frames of a video file, as stored (``upright_turns`` says how to turn
    them), for readers that convert only what they need (a scaled-down or cropped part). Every
    frame the container declares must arrive (a truncated file whose index sits at the front
    otherwise just ends early); a problem with the file is a ``MediaError``."""
    import av

    path = Path(path)
    try:
        container = _open_av(path)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as e:
        raise MediaError(f"{path}: corrupt or unreadable video ({first_line(e)})") from None
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "FRAME"
        declared = stream.frames or 0
        decoded = 0
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except (av.FFmpegError, OSError, ValueError) as e:
                if decoded < declared:
                    raise _truncated(path, decoded, declared, first_line(e)) from None
                raise MediaError(f"{path}: video data is corrupt ({first_line(e)})") from None
            decoded += 1
            yield frame
        if decoded < declared:
            raise _truncated(path, decoded, declared, "the data ends early")


def _truncated(path: Path, decoded: int, declared: int, why: str) -> MediaError:
    return MediaError(
        f"{path}: truncated or corrupt video: only {decoded} of the {declared} frames it "
        f"declares could be read ({why})"
    )


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> np.ndarray:
    """All frames (or the first ``max_frames``) as one uint8 array (T, H, W, 3). For short clips;
    use ``iter_video`` to stream long ones."""
    frames = []
    for frame in iter_video(path):
        frames.append(frame)
        if max_frames is not None and len(frames) >= max_frames:
            break
    return np.stack(frames)
