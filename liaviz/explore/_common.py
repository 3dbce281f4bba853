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


LOG_LINES = 200  # the log keeps this many lines, newest first


class LogBox:
    """A view's log: newest line first in a box of fixed height that scrolls (an ``Output``
    widget grew, then hid its newest lines below its edge). ``lines`` keeps the text, oldest
    first; errors are red."""

    def __init__(self, height_px: int = 110) -> None:
        self.height_px = height_px
        self.lines: list[tuple[str, bool]] = []  # (text, is_error)
        self.widget = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.widget.add_class("liaviz-log")
        self._draw()

    def add(self, text: str, error: bool = False) -> None:
        self.lines = [*self.lines, (text.rstrip("\n"), error)][-LOG_LINES:]
        self._draw()

    def text(self, errors_only: bool = False) -> str:
        return "".join(f"{t}\n" for t, e in self.lines if e or not errors_only)

    def _draw(self) -> None:
        rows = (
            "".join(
                f"<div style='color:{'#c0392b' if e else '#333'}'>{html.escape(t)}</div>"
                for t, e in reversed(self.lines)
            )
            or "<div style='color:#999'>log: results and errors, newest first</div>"
        )
        self.widget.value = (
            f"<div class='liaviz-log-scroll' style='height:{self.height_px}px;overflow-y:auto;"
            "border:1px solid #ddd;padding:2px 6px;font:12px monospace;white-space:pre-wrap'>"
            f"{rows}</div>"
        )


def message_html(text: str, error: bool = False) -> str:
    """A control's own result line (beside the control), one line that never wraps."""
    color = "#c0392b" if error else "#2d6a4f"
    return (
        f"<div title='{html.escape(text, quote=True)}' style='font-size:12px;color:{color};"
        "white-space:nowrap;overflow:hidden;text-overflow:ellipsis'>"
        f"{html.escape(text)}</div>"
    )


class View:
    """A widget-backed view: displays as its ``widget`` and reports problems in its log."""

    widget: widgets.Widget
    log_box: LogBox
    status: widgets.HTML

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def log(self, text: str) -> None:
        self.log_box.add(text)

    def report_error(self, exc: BaseException) -> None:
        """Show an error in the view (status line and log) instead of raising."""
        message = error_text(exc)
        self.errors.append(message)
        self.status.value = f"<span style='color:#c0392b'>{html.escape(message)}</span>"
        self.log_box.add(message, error=True)

    def guarded(self, fn, *args, **kwargs):
        """Call ``fn``; an exception lands in the log (button callbacks use this)."""
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            self.report_error(e)
            return None

    def act(self, place: widgets.HTML, fn, *args):
        """Run a button's action; its result (the log line it wrote) or its error shows in
        ``place``, beside the button, and in the status line (``guarded`` for buttons)."""
        n = len(self.log_box.lines)
        try:
            result = fn(*args)
        except Exception as e:
            self.report_error(e)
            place.value = message_html(self.errors[-1], error=True)
            self._failed(place, self.errors[-1])
            return None
        text = self.log_box.lines[-1][0] if len(self.log_box.lines) > n else "done"
        place.value = message_html(text)
        self.show_status(text)
        return result

    def _failed(self, place: widgets.HTML, message: str) -> None:
        """After ``act`` showed an error in ``place``: undo what would now mislead."""

    def show_status(self, text: str) -> None:
        self.status.value = f"<span style='color:#555'>{html.escape(text)}</span>"

    @property
    def errors(self) -> list[str]:
        if not hasattr(self, "_errors"):
            self._errors: list[str] = []
        return self._errors
