"""Images and videos in and out, and their preparation to the model's input size.

Pixels travel as ``uint8`` RGB arrays, (H, W, 3) per image or frame. Images are read with Pillow,
videos with PyAV (streamed: one frame in memory at a time, exact frame count and frame rate,
turned upright by the rotation tag phones write, and checked against the frame count the file
declares, so a truncated file is an error rather than a short video), GIFs with Pillow; a folder
of PNG/JPEG frames (the FOMM dataset layout) reads as a video too. ``frame_times`` gives each
frame's timestamp, for variable frame rate clips. Every problem with a file is a ``MediaError``
naming the file in one line.

Model tensors are float32 NCHW in [-1, 1]: ``(u8 / 255 - 0.5) * 2`` (the official convention).
``to_uint8`` clamps to [-1, 1] and maps each frame back on its own. The official demo instead
rescales the whole output video by its global min/max, so one outlier pixel dims every frame;
clamping keeps frames independent, which a stream needs.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import NO_SPACE, atomic_output, match_permissions, temporary
from .errors import UserError, first_line

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".gif")
# Frame rate given to a folder of frames, which stores none (FOMM datasets are ~25 fps).
FOLDER_FPS = 25.0
Crop = Literal["center", "pad", "none"]


class MediaError(UserError, ValueError):
    """An image or video could not be read or written; the message names the file and why."""


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


# ---- images -------------------------------------------------------------------------------------


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as uint8 RGB (H, W, 3).

    EXIF orientation is applied; transparency is composited on white; grayscale, palette, CMYK
    and other modes are converted; 16-bit and float images are reduced to 8 bits.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, not an image")
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return _pil_to_rgb(im)
    except Image.DecompressionBombError as e:
        raise MediaError(f"{path}: image too large to read safely ({first_line(e)})") from None
    except UnidentifiedImageError:
        raise MediaError(
            f"{path}: not an image Pillow can read (unknown or corrupt format)"
        ) from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated data, bad headers
        raise MediaError(f"{path}: corrupt or unreadable image ({first_line(e)})") from None


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        a = np.asarray(im).astype(np.float64)
        if mode == "F":
            peak = 1.0 if a.size and np.nanmax(a) <= 1.0 else 255.0
        elif mode.startswith("I;16") or im.format == "PNG":  # PNG opens 16-bit gray as I or I;16
            peak = 65535.0  # by the bit depth, never by the content: a dark image stays dark
        else:  # 32-bit integer gray (TIFF) says nothing of its range: 16 bits when it exceeds 8
            peak = 65535.0 if a.size and a.max() > 255 else 255.0
        g = np.clip(np.nan_to_num(a) / peak * 255.0, 0, 255).round().astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in im.info
    ):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im)


def prepare(image: np.ndarray, size: int, crop: Crop = "center") -> np.ndarray:
    """Bring an image to the model's square input, uint8 (size, size, 3).

    ``crop``: ``"center"`` cuts the largest centred square; ``"pad"`` pads the short side
    symmetrically with white to a square (nothing is lost); ``"none"`` stretches.
    The resize is Pillow's bilinear filter (``Image.BILINEAR``), which Pillow widens into an
    area-aware, anti-aliased filter when shrinking; the reference inputs of the golden tests
    were resized the same way. An image already at (size, size) is returned unchanged.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    if crop == "center":
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        image = image[top : top + s, left : left + s]
    elif crop == "pad":
        s = max(h, w)
        top, left = (s - h) // 2, (s - w) // 2
        padded = np.full((s, s, 3), 255, np.uint8)
        padded[top : top + h, left : left + w] = image
        image = padded
    elif crop != "none":
        raise ValueError(f"crop must be 'center', 'pad' or 'none', got {crop!r}")
    if image.shape[:2] == (size, size):
        return np.ascontiguousarray(image)
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) or (T, H, W, 3) -> float32 (1 or T, 3, H, W) in [-1, 1]."""
    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim not in (3, 4) or a.shape[-1] != 3:
        raise ValueError(f"expected uint8 (H, W, 3) or (T, H, W, 3), got {a.dtype} {a.shape}")
    if not a.flags.writeable:  # Pillow hands out read-only views; torch wants writable memory
        a = a.copy()
    t = torch.from_numpy(np.ascontiguousarray(a))
    if t.dim() == 3:
        t = t.unsqueeze(0)
    return (t.permute(0, 3, 1, 2).float() / 255.0 - 0.5) * 2.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Model output (3, H, W) or (N, 3, H, W) -> uint8 (H, W, 3) or (N, H, W, 3).

    Values are clamped to [-1, 1], then mapped linearly, frame by frame (see the module notes
    on how this differs from the official demo's whole-video min/max rescaling).
    """
    x = images.detach()
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"expected (3, H, W) or (N, 3, H, W), got {tuple(x.shape)}")
    x = ((x.float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
    x = x.permute(1, 2, 0) if x.dim() == 3 else x.permute(0, 2, 3, 1)
    return x.cpu().contiguous().numpy()


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Save a uint8 (H, W, 3) image (format from the suffix: png, jpg, ...), atomically: written
    next to the target under a temporary name, then renamed."""
    path = Path(path)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    if not path.parent.is_dir():
        raise MediaError(f"{path}: output folder {path.parent} does not exist")
    try:
        with atomic_output(path, suffix=path.suffix, error=MediaError) as tmp:
            Image.fromarray(image).save(tmp)
    except (OSError, ValueError, KeyError) as e:  # Pillow: ValueError/KeyError for a bad suffix
        if isinstance(e, OSError) and e.errno in NO_SPACE:
            raise MediaError(f"{path}: no space left on the device while writing") from None
        raise MediaError(f"{path}: cannot write image ({first_line(e)})") from None
    return path


# ---- videos -------------------------------------------------------------------------------------


def check_not_an_input(out: str | os.PathLike, *inputs: str | os.PathLike) -> None:
    """Refuse an output path that is one of the inputs: writing it would destroy that input."""
    for given in inputs:
        try:
            same = os.path.samefile(out, given)
        except OSError:  # one of them does not exist (yet)
            continue
        if same:
            raise MediaError(
                f"{out}: is also the input {given}; writing there would destroy it (choose "
                "another output name)"
            )


def is_frame_folder(path: str | os.PathLike) -> bool:
    return Path(path).is_dir()


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frame folder, in name order (``0001.png`` ...)."""
    folder = Path(folder)
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    return files


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
    """Decode with PyAV: frames turned upright by their display matrix (phone videos store
    sideways frames and a rotation tag), and a check that every frame the container declares
    arrives (a truncated file whose index sits at the front otherwise just ends early)."""
    import av

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
            image = frame.to_ndarray(format="rgb24")
            turns = _quarter_turns(frame.rotation)
            decoded += 1
            yield np.ascontiguousarray(np.rot90(image, turns)) if turns else image
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


# ---- writing ------------------------------------------------------------------------------------


def output_kind(path: str | os.PathLike) -> str:
    """``"mp4"`` (any ffmpeg container: .mp4/.mov/.mkv...), ``"gif"``, or ``"frames"`` for a path
    without a video suffix (a folder of PNG frames)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gif":
        return "gif"
    if suffix in (".mp4", ".mov", ".m4v", ".mkv", ".avi"):
        return "mp4"
    if suffix in IMAGE_SUFFIXES or suffix == ".webm":
        raise MediaError(
            f"{path}: cannot write video as {suffix}; use .mp4, .gif, or a folder name for "
            "PNG frames"
        )
    return "frames"


class VideoWriter:
    """Write frames to mp4 (H.264 / libx264, yuv420p), GIF, or a folder of PNG frames.

    ``times`` (seconds from the first frame, one per frame, e.g. ``frame_times(driving)``)
    keeps a variable frame rate: mp4 frames get those timestamps and GIF frames those
    durations (a folder of frames has no timing). ``audio_from``: a media file whose first
    audio stream is copied into an mp4 output (re-encoded as AAC by the ffmpeg that
    imageio-ffmpeg ships), cut to the length of the written frames.

    Atomic: frames go to a hidden temporary file (or folder) next to the target, which is renamed
    to the target name only when the ``with`` block ends without an error. A failed or
    interrupted run leaves nothing under the requested name. libx264 with yuv420p needs even
    sizes, so an odd width or height is padded by one replicated pixel row/column. A GIF is
    written when it is closed (Pillow needs every frame then): its frames wait in memory as
    palette images, 1 byte per pixel, and GIF delays come in 10 ms steps (so 30 fps plays at
    33.3). Use mp4 or PNG frames for long videos.

        with VideoWriter("out.mp4", fps=info.fps) as w:
            for frame in frames:
                w.write(frame)          # uint8 (H, W, 3)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction,
        crf: int = 18,
        overwrite: bool = True,
        times: list[Fraction] | None = None,
        audio_from: str | os.PathLike | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = fps
        self.crf = crf
        self.times = times
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.kind = output_kind(self.path)
        self.frames_written = 0
        parent = self.path.parent
        if not parent.is_dir():
            raise MediaError(f"{self.path}: output folder {parent} does not exist")
        if self.path.exists():
            if self.kind == "frames" and not self.path.is_dir():
                raise MediaError(f"{self.path}: exists and is a file, not a folder for frames")
            if self.kind == "frames" and any(self.path.iterdir()):
                raise MediaError(f"{self.path}: folder exists and is not empty")
            if self.kind != "frames" and self.path.is_dir():
                raise MediaError(f"{self.path}: is a folder")
            if not overwrite:
                raise MediaError(f"{self.path}: already exists")
        if not fps or float(fps) <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self._tmp: Path | None = None
        self._writer = None
        self._gif_frames: list[Image.Image] = []
        self._shape: tuple[int, ...] | None = None

    # context manager ----------------------------------------------------------------------------
    def __enter__(self) -> VideoWriter:
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        try:
            self._tmp = temporary(self.path, self.path.suffix, folder=self.kind == "frames")
        except OSError as e:
            raise self._os_error(e) from None
        match_permissions(self._tmp, self.path)
        if self.kind == "mp4":
            try:
                self._writer = _H264Writer(self._tmp, self.fps, self.crf, self.times is not None)
            except Exception as e:  # av raises its own error types for codec/container trouble
                self.abort()
                if isinstance(e, OSError):
                    raise self._os_error(e) from None
                raise MediaError(
                    f"{self.path}: cannot open for writing ({first_line(e)})"
                ) from None

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 (H, W, 3) frame; every frame must have the same size."""
        if self._tmp is None:
            self.open()
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")
        if self._shape is None:
            self._shape = frame.shape
        elif frame.shape != self._shape:
            raise ValueError(f"frame size changed from {self._shape} to {frame.shape}")
        try:
            if self.kind == "mp4":
                self._writer.write(_even(frame), self._time(self.frames_written))
            elif self.kind == "gif":
                # Quantize now so a long GIF holds 1 byte per pixel, not 3 (GIF is written
                # at close, Pillow needs every frame then).
                self._gif_frames.append(Image.fromarray(frame).quantize(256))
            else:
                name = self._tmp / f"{self.frames_written:06d}.png"
                Image.fromarray(frame).save(name, compress_level=1)
        except OSError as e:
            raise self._os_error(e) from None
        self.frames_written += 1

    def write_many(self, frames: Iterable[np.ndarray]) -> None:
        for frame in frames:
            self.write(frame)

    def close(self) -> Path:
        """Finish the file and move it under the target name. Returns the target path."""
        if self._tmp is None:
            self.open()
        try:
            if self.frames_written == 0:
                raise MediaError(f"{self.path}: no frames were written")
            if self.kind == "mp4":
                writer, self._writer = self._writer, None
                writer.close()
                if self.audio_from is not None:
                    self._add_audio()
            elif self.kind == "gif":
                ms = int(round(1000.0 / float(self.fps)))
                if self.times is not None:  # per-frame durations, each frame's own
                    n = self.frames_written
                    ms = [int(round(1000 * float(self.duration(i)))) for i in range(n)]
                first, *rest = self._gif_frames
                first.save(self._tmp, save_all=True, append_images=rest, duration=ms, loop=0)
                self._gif_frames = []
            if self.kind == "frames":
                if self.path.is_dir():
                    self.path.rmdir()  # empty (checked at construction)
            else:
                with open(self._tmp, "rb") as f:
                    os.fsync(f.fileno())
            os.replace(self._tmp, self.path)
            self._tmp = None
        except OSError as e:
            self.abort()
            raise self._os_error(e) from None
        except Exception:
            self.abort()
            raise
        return self.path

    def _time(self, i: int) -> Fraction | None:
        """Frame ``i``'s time; past the given ``times``, frames follow at 1/fps."""
        if self.times is None:
            return None
        last = len(self.times) - 1
        if i <= last:
            return self.times[i]
        return self.times[last] + (i - last) * self.duration(last)

    def duration(self, i: int) -> Fraction:
        """How long frame ``i`` is shown: up to the next frame's time; the last frame (or a
        constant rate) lasts 1/fps."""
        if self.times is not None and i + 1 < len(self.times):
            return self.times[i + 1] - self.times[i]
        rate = self.fps if isinstance(self.fps, Fraction) else Fraction(self.fps)
        return 1 / rate

    @property
    def seconds(self) -> Fraction:
        """The length of what was written: the last frame's time plus its duration."""
        last = self.frames_written - 1
        start = self._time(last) if self.times is not None else last * self.duration(last)
        return start + self.duration(last)

    def _add_audio(self) -> None:
        """Mux the first audio stream of ``audio_from`` into the finished mp4, cut to its
        length, by a second temporary that then replaces the first."""
        from imageio_ffmpeg import get_ffmpeg_exe

        muxed = temporary(self.path, self.path.suffix)
        cmd = [
            get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(self._tmp),
            "-i", str(self.audio_from), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
            "-c:a", "aac", "-t", f"{float(self.seconds):.6f}", str(muxed),
        ]  # fmt: skip
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                why = (r.stderr.strip().splitlines() or [f"ffmpeg exit code {r.returncode}"])[-1]
                if os.strerror(errno.ENOSPC) in r.stderr or "File too large" in r.stderr:
                    raise OSError(errno.ENOSPC, why)
                raise MediaError(
                    f"{self.path}: cannot copy the audio of {self.audio_from} ({why}); "
                    "--no-audio writes the video without it"
                )
            os.replace(muxed, self._tmp)
        finally:
            muxed.unlink(missing_ok=True)

    def abort(self) -> None:
        """Drop everything written so far; the target name is left untouched."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()
        self._gif_frames = []
        tmp, self._tmp = self._tmp, None
        if tmp is not None and tmp.exists():
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)

    def _os_error(self, e: OSError) -> MediaError:
        if getattr(e, "errno", None) in NO_SPACE:
            return MediaError(
                f"{self.path}: no space left on the device while writing (nothing was written "
                "under that name)"
            )
        return MediaError(f"{self.path}: cannot write ({first_line(e)})")


class _H264Writer:
    """A thin PyAV encoder: rgb24 frames in, H.264 yuv420p out, at an exact frame rate, or at
    given frame times (then in a 1/90000 s time base, as MPEG streams use)."""

    TIMED_BASE = Fraction(1, 90000)

    def __init__(self, path: Path, fps: float | Fraction, crf: int, timed: bool = False) -> None:
        import av

        rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(65535)
        self._container = av.open(str(path), mode="w")
        self._timed = timed
        try:
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(crf)}
            if timed:
                self._stream.codec_context.time_base = self.TIMED_BASE
        except Exception:
            self._container.close()
            raise
        self._sized = False

    def write(self, frame: np.ndarray, time: Fraction | None = None) -> None:
        import av

        if not self._sized:
            self._stream.height, self._stream.width = frame.shape[:2]
            self._sized = True
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        if self._timed:
            video_frame.pts = round(Fraction(time) / self.TIMED_BASE)
            video_frame.time_base = self.TIMED_BASE
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self._stream.encode(None):  # flush the encoder's delayed frames
                self._container.mux(packet)
        finally:
            self._container.close()

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # a broken stream (disk full) may fail to finish; it is discarded
            pass


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame

