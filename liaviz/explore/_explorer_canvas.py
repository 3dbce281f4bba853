"""What the explorer shows of an edit: the image (edit, difference map, or pasted into the whole
photo), the status line with its busy dot, and the notes beside the sliders (importance, ↔)."""

from __future__ import annotations

import html
import time

import numpy as np

from ..analysis import ranges
from ..analysis.display import letterbox, png
from ..analysis.magnitudes import Ranking
from ._edits import DIFF_GAIN
from ._explorer_layout import LINE, ExplorerWidgets, caption
from ._explorer_source import ExplorerSource


class EditCanvas:
    """Draws into the explorer's widgets (``ui``) from its ``source``: ``render`` and ``preview``
    are the renderer's two qualities; ``status`` is the one status line."""

    def __init__(self, ui: ExplorerWidgets, source: ExplorerSource, display_size: int) -> None:
        self.ui, self.source, self.display_size = ui, source, display_size
        self.current_image: np.ndarray = source.source  # the last full render
        self.last_render_s: float | None = None
        self.busy = False
        self._text, self._color = "", "#555"

    def show_source(self) -> None:
        """The source beside the edit; "in the photo" only for a face cut out of a photo."""
        src = self.source
        self.ui.source_image.value = png(src.source, self.display_size)
        self.ui.set_pasted(src.placed is not None and not src.placed.whole)

    def show(self, img: np.ndarray) -> bytes:
        src = self.source
        shown = src.decoder.difference(img) if self.ui.diff_toggle.value else img
        if self.ui.photo_toggle.value and src.placed is not None and not src.placed.whole:
            shown = letterbox(src.placed.paste(src.photo, shown), self.display_size)
        data = png(shown, self.display_size)
        self.ui.image.value = data
        return data

    def render(self, e: np.ndarray) -> None:
        t0 = time.perf_counter()
        img = self.source.decoder.full(e)
        t1 = time.perf_counter()
        self.show(img)
        t2 = time.perf_counter()
        self.current_image, self.last_render_s = img, t2 - t0
        self.status(
            f"last render {1000 * (t2 - t0):.0f} ms "
            f"(decode {1000 * (t1 - t0):.0f}, PNG {1000 * (t2 - t1):.0f})"
        )

    def preview(self, e: np.ndarray) -> bool:
        t0 = time.perf_counter()
        img, full = self.source.decoder.preview(e)
        self.show(img)
        dt = time.perf_counter() - t0
        if full:
            self.current_image, self.last_render_s = img, dt
            self.status(f"last render {1000 * dt:.0f} ms")
        else:
            self.status(f"preview {1000 * dt:.0f} ms at {img.shape[0]} px; full image on rest")
        return full

    def show_current(self) -> None:
        """Redraw the last image after a display toggle (difference map, in the photo)."""
        text = (
            f"|edit − reconstruction| ×{DIFF_GAIN:g}"
            if self.ui.diff_toggle.value
            else "edit (all 0 = reconstruction)"
        )
        self.ui.image_caption.value = caption(text, self.display_size).value
        self.show(self.current_image)

    def status(self, text: str, color: str = "#555") -> None:
        """The one status line, in a fixed place: a busy dot (orange while rendering) and text."""
        dot = f"<span style='color:{'#e67e22' if self.busy else '#27ae60'}'>●</span>"
        self._text, self._color = text, color
        self.ui.status.value = (
            f"<div style='font-size:12px;color:{color};{LINE}'>{dot} {html.escape(text)}</div>"
        )

    def on_busy(self, busy: bool) -> None:
        self.busy = busy
        error = self._color == "#c0392b"
        self.status("rendering…" if busy and not error else self._text, self._color)

    def show_notes(
        self, ranking: Ranking, widened: set[int], range_source: str, order: list[int]
    ) -> None:
        """Each slider's importance (and ↔ when widened), and what the ranges and order mean."""
        r = ranking
        for i, label in enumerate(self.ui.spread_labels):
            flag = "↔ " if i in widened else ""
            v = f"{r.kind} {r.values[i]:.2f}" if r.kind != "none" else ""
            label.value = (
                f"<span style='font-size:11px;color:#777;{LINE}' title='{flag and 'widened'}'>"
                f"<span style='color:#d35400'>{flag}</span>{v}</span>"
            )
        where = {
            "data": f"ranges from the data: ±max(3σ, max|A_t − A_s|) ×{ranges.MARGIN}",
            "default": f"ranges: default {ranges.DEFAULT_RANGE[0]:g}..{ranges.DEFAULT_RANGE[1]:g}"
            " (no clips given)",
            "given": "ranges: as given",
        }[range_source]
        more = f"<br>↔ widened: {len(widened)}" if widened else ""
        shown = "" if order == r.order else "<br>(shown in d1..dM order)"
        self.ui.info.value = (
            "<div style='font-size:12px;color:#444;line-height:1.4'>"
            "<b>0 = reconstruction</b> of the source (z<sub>s→s</sub>)<br>"
            f"{where}<br>{html.escape(r.label)}{shown}{more}<br>"
            "arrow keys: 1% of a range, Shift+arrow 10%</div>"
        )
