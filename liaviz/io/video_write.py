"""Writing videos: mp4 (H.264), GIF or a folder of PNG frames, atomically (``liaviz.io.atomic``),
with the driving video's frame times and audio when asked."""

from __future__ import annotations

import errno
import os
import struct
import subprocess
from collections.abc import Iterable
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import first_line
from .atomic import atomic_folder, atomic_output, check_output_folder, os_reason, temporary
from .images import IMAGE_SUFFIXES, MediaError


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
    streamed: each frame gets its own 256-colour palette and goes to the file as it comes, so
    memory does not grow with its length (the file holds about 1 byte per pixel per frame,
    less after LZW). GIF delays come in 10 ms steps: each frame's delay is rounded so that
    the frame times stay within 5 ms of the asked ones (30 fps plays as 30, 40, 30, ... ms).

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
        check_output_folder(self.path, MediaError)
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
        self._tmp: Path | None = None  # what is being written; renamed onto ``path`` at close
        self._output: ExitStack | None = None  # the ``liaviz.io.atomic`` context owning ``_tmp``
        self._writer = None
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
        self._output = ExitStack()
        if self.kind == "frames":
            output = atomic_folder(self.path, MediaError)
        else:
            output = atomic_output(self.path, self.path.suffix, MediaError)
        self._tmp = self._output.enter_context(output)
        if self.kind in ("mp4", "gif"):
            try:
                if self.kind == "gif":
                    self._writer = _GifWriter(self._tmp)
                else:
                    timed = self.times is not None
                    self._writer = _H264Writer(self._tmp, self.fps, self.crf, timed)
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
                self._writer.write(frame, self._centiseconds(self.frames_written))
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
            if self.kind in ("mp4", "gif"):
                writer, self._writer = self._writer, None
                writer.close()
                if self.audio_from is not None and self.kind == "mp4":
                    self._add_audio()
            output, self._output, self._tmp = self._output, None, None
            output.close()  # synced and renamed onto the target (an empty folder is replaced)
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

    def _centiseconds(self, i: int) -> int:
        """Frame ``i``'s GIF delay: its end and start each rounded to 10 ms, so rounding
        errors do not add up over a long GIF."""
        start = self._time(i) if self.times is not None else i * self.duration(i)
        end = start + self.duration(i)
        return round(end * 100) - round(start * 100)

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
        output, self._output, self._tmp = self._output, None, None
        if output is not None:  # the atomic context removes the temporary on an error
            output.__exit__(_Aborted, _Aborted(), None)

    def _os_error(self, e: OSError) -> MediaError:
        return MediaError(os_reason(self.path, e))


class _Aborted(Exception):
    """Passed to the atomic output context to make it drop the temporary."""


class _GifWriter:
    """A looping GIF written frame by frame: each frame is quantized to its own palette (a
    local colour table) and LZW-coded by Pillow as it comes. Pillow's own ``save_all`` needs
    every frame at once, which made memory grow with the GIF's length.

    As Pillow does, only the box of pixels that changed since the last frame is written, and
    inside it a pixel that would be drawn in the colour already on screen is transparent
    (long runs of one index cost LZW almost nothing). Palettes hold 255 colours so that index
    255 is always free for that."""

    CLEAR = 255  # the transparent index: "leave the pixel as it is"

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # closed by close() or abort()
        self._previous: np.ndarray | None = None  # the last frame given
        self._screen: np.ndarray | None = None  # what a viewer shows now (palette colours)

    def write(self, frame: np.ndarray, centiseconds: int) -> None:
        from PIL import GifImagePlugin

        first = self._previous is None
        if first:
            self._file.write(_gif_header(frame.shape[1], frame.shape[0]))
            self._screen = np.zeros_like(frame)
            top, left, bottom, right = 0, 0, *frame.shape[:2]
        else:
            top, left, bottom, right = _changed_box(self._previous, frame)
        self._previous = frame.copy()
        quantized = Image.fromarray(frame[top:bottom, left:right]).quantize(self.CLEAR)
        palette = np.zeros((256, 3), np.uint8)
        colours = np.asarray(quantized.getpalette(), np.uint8).reshape(-1, 3)
        palette[: len(colours)] = colours
        indices = np.asarray(quantized)
        drawn, screen = palette[indices], self._screen[top:bottom, left:right]
        extra = {}
        if not first:  # the first frame draws everything: nothing is on screen yet
            indices = np.where((drawn == screen).all(axis=2), self.CLEAR, indices)
            extra["transparency"] = self.CLEAR
        screen[...] = drawn
        image = Image.fromarray(indices.astype(np.uint8), "P")
        image.putpalette(palette.tobytes())
        # getdata writes the frame's delay (a graphic control extension), its image
        # descriptor with the local palette, and its LZW data; it truncates ms to 10 ms steps,
        # so it is given whole centiseconds.
        chunks = GifImagePlugin.getdata(
            image, (left, top), duration=centiseconds * 10, include_color_table=True, **extra
        )
        for chunk in chunks:
            self._file.write(chunk)

    def close(self) -> None:
        with self._file:
            self._file.write(b";")  # the GIF trailer

    def abort(self) -> None:
        try:
            self._file.close()
        except OSError:  # the buffered rest cannot be written (disk full); it is discarded
            pass


def _gif_header(width: int, height: int) -> bytes:
    """GIF89a, the logical screen with no global palette (every frame brings its own), and
    the NETSCAPE2.0 extension that loops forever."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00"
    return screen + loop


def _changed_box(previous: np.ndarray, frame: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the pixels that differ; one pixel when none does (the
    frame is still written, so a GIF read back has as many frames as were written)."""
    changed = (previous != frame).any(axis=2)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if rows.size == 0:
        return 0, 0, 1, 1
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


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
