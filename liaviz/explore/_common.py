"""Shared pieces of the widgets: image display, error reporting, and the display protocol."""

from __future__ import annotations

import html
import tempfile
import traceback
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from ..analysis.display import png, upscale
from ..errors import UserError, first_line


def image_widget(image: np.ndarray | None = None, display_size: int = 256) -> widgets.Image:
    w = widgets.Image(format="png", layout=widgets.Layout(width=f"{display_size}px"))
    if image is not None:
        w.value = png(image, display_size)
    return w


def play(
    frames: np.ndarray, fps: float = 12.0, display_size: int = 256, caption: str | None = None
) -> widgets.Widget:
    """Frames (T, H, W, 3) uint8 as a looping inline video (H.264 MP4), enlarged (nearest) to
    ``display_size`` when small."""
    from ..io import VideoWriter

    frames = upscale(np.asarray(frames), display_size)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        with VideoWriter(path, fps=fps) as writer:
            writer.write_many(frames)
        video = widgets.Video(
            value=path.read_bytes(), format="mp4", autoplay=True, loop=True, controls=True
        )
    video.layout.width = f"{frames.shape[2]}px"
    if caption is None:
        return video
    return widgets.VBox([video, widgets.HTML(f"<small>{html.escape(caption)}</small>")])


def labelled(child: widgets.Widget, text: str) -> widgets.VBox:
    caption = widgets.HTML(
        f"<div style='text-align:center;font-size:12px'>{html.escape(text)}</div>"
    )
    return widgets.VBox([child, caption], layout=widgets.Layout(align_items="center"))


def error_text(exc: BaseException) -> str:
    """One short line: the message for problems the user can fix (bad input, a file or folder
    the system refused), type, message and place for bugs."""
    if isinstance(exc, UserError):
        return f"error: {first_line(exc)}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"error: {exc.strerror}{where}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"error: {type(exc).__name__}: {first_line(exc)}{where}"


class View:
    """A widget-backed view: displays as its ``widget`` and reports problems in ``output``."""

    widget: widgets.Widget
    output: widgets.Output
    status: widgets.HTML

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def log(self, text: str) -> None:
        self.output.append_stdout(text.rstrip("\n") + "\n")

    def report_error(self, exc: BaseException) -> None:
        """Show an error in the view (status line and output area) instead of raising."""
        message = error_text(exc)
        self.errors.append(message)
        self.status.value = f"<span style='color:#c0392b'>{html.escape(message)}</span>"
        self.output.append_stderr(message + "\n")

    def guarded(self, fn, *args, **kwargs):
        """Call ``fn``; an exception lands in the output area (button callbacks use this)."""
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            self.report_error(e)
            return None

    @property
    def errors(self) -> list[str]:
        if not hasattr(self, "_errors"):
            self._errors: list[str] = []
        return self._errors
