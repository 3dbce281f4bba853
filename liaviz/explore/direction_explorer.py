"""``DirectionExplorer``: one slider per motion direction d_i, and the source edited live.

The edited code is the paper's linear manipulation (Fig. 6), z = z_{s->s} + sum_i e_i d_i: with
every slider at 0 the image is the source's reconstruction, shown beside the source. The source is
encoded once; each slider event only decodes. Renders run on a worker thread and the newest value
wins; while a slider moves a coarser decoder level previews the edit, and the full image follows
when it rests. ``threaded=False`` renders inline and in full (scripts, tests).
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

import numpy as np
import torch

from ..analysis import ENCODE_PRECISION, AnalysisError
from ..analysis import ranges as R
from ..analysis.anatomy import direction_names, load_anatomy
from ..analysis.display import letterbox, png
from ..analysis.edits import direction_labels, random_edit
from ..analysis.magnitudes import (
    MagnitudeSet,
    direction_variance,
    frame_magnitudes,
    importance,
    model_frames,
)
from ..analysis.magnitudes import order_by_variance as variance_order
from ..demo import sample_portrait
from ..io import Crop, to_uint8
from ..nn import LIA
from ..numeric import count_or_none
from ..runtime.device import Precision, model_device, resolve_precision
from ..runtime.source import encode_source, source_crop, source_image, source_tensor
from ._common import View, play
from ._edits import DIFF_GAIN, EditDecoder
from ._explorer_files import ExplorerFiles, input_files
from ._explorer_layout import LINE as _LINE
from ._explorer_layout import ExplorerLayout
from ._render import LatestValueRenderer


class DirectionExplorer(ExplorerLayout, ExplorerFiles, View):
    """Sliders for every direction d_i of ``model``, applied to ``image`` (default: the Mona Lisa).
    A whole photo is cropped around its face (``crop="auto"``, ``liaviz.faces``) and the "in the
    photo" toggle shows each edit pasted back into it.

    ``driving`` (optional: a video path, uint8 (T, H, W, 3) frames, or an iterable of frames)
    enables "take motion from a frame" and animating the edited source; with ``order_by``
    (magnitudes (N, M) or a ``MagnitudeSet``, e.g. of a dataset split) it sets each slider's
    range (every frame's A_t - A_s fits, see ``liaviz.analysis.ranges``) and the default order,
    most varying first. Without either, sliders span ``ranges.DEFAULT_RANGE`` and are ordered by
    the encoder's gain. ``value_range`` forces one range on all. A value beyond a slider's range
    widens it (flagged), never clips. ``names``: a list, or a directions.json from the direction
    analysis (names "d<i>: <label>", ``liaviz.analysis.anatomy.direction_names``). Files (presets, PNG, sweeps) go to ``folder``. ``anatomy`` (a
    ``liaviz.analysis.anatomy.Anatomy``, or True to measure one on ``image``) names the sliders by what each
    direction does when ``names`` is not given, shows its figure and gives the Animate mixer its
    "pose only" / "expression only" presets.
    """

    def __init__(
        self,
        model: LIA,
        image=None,
        *,
        driving=None,
        names: list[str] | str | os.PathLike | None = None,
        value_range: tuple[float, float] | None = None,
        step: float | None = None,
        display_size: int = 256,
        precision: Precision = "auto",
        folder: str = "explorer_out",
        max_driving_frames: int = 300,
        order_by=None,
        crop: Crop = "auto",
        threaded: bool = True,
        preview_budget_s: float = 0.3,
        anatomy=None,
    ) -> None:
        R.check_slider_options(value_range, step)
        self.model = model
        self.m = model.config.motion_dim
        self.inputs = input_files(image, driving, names, anatomy)  # no export writes over them
        self.display_size = display_size
        self.precision = resolve_precision(precision, model_device(model))
        self.photo, self.placed = None, None  # a photo and its face crop (paste-back view)
        if not isinstance(image, torch.Tensor):  # a tensor is a model-size crop already
            self.photo = source_image(sample_portrait() if image is None else image)
            self.placed = source_crop(self.photo, model.config.size, crop)
            image, crop = self.placed.crop, "center"
        x = source_tensor(model, image, crop)
        self.source = to_uint8(x.cpu())[0]
        self.state = encode_source(
            model, x, precision=ENCODE_PRECISION
        )  # slider events only decode
        self.decoder = EditDecoder(model, self.state, self.precision, preview_budget_s)
        if anatomy is True:
            from ..analysis.anatomy import analyze_directions

            anatomy = analyze_directions(model, [self.source])
        if isinstance(names, (str, os.PathLike)):
            names = direction_names(load_anatomy(names), self.m)
        elif names is None and anatomy is not None:
            names = direction_names(anatomy, self.m)
        self.anatomy = anatomy
        self.names = direction_labels(self.m, names)
        self.order = list(range(self.m))
        self.current_image = self.source
        self.last_render_s: float | None = None
        self.last_animation: np.ndarray | None = None
        self.last_export: Path | None = None
        self.widened: set[int] = set()  # directions whose range grew to hold a value
        self._quiet = False
        self._last_values: np.ndarray | None = None
        self._rng = np.random.default_rng()
        self._order_alpha = order_by.alpha if isinstance(order_by, MagnitudeSet) else order_by
        self.driving_frames = (
            None if driving is None else model_frames(model, driving, crop, max_driving_frames)
        )
        self._driving_alpha: np.ndarray | None = None
        lo_hi, steps, self.range_source = self._initial_ranges(value_range, step)
        self._base_ranges = [tuple(r) for r in lo_hi]
        self._build(lo_hi, steps, folder)
        self.renderer = LatestValueRenderer(
            self._render,
            self.report_error,
            threaded=threaded,
            preview=self._preview,
            on_busy=self._on_busy,
        )
        self.importance, self.importance_kind = importance(model, self.data_magnitudes())
        self._show_notes()
        if self.importance_kind != "none":
            self.set_order(np.argsort(-self.importance, kind="stable"))
        self.refresh_presets()
        self.render_now()

    # ---- ranges and importance ----------------------------------------------------------------
    def data_magnitudes(self) -> np.ndarray | None:
        """The frames' magnitudes (N, M) that set ranges and order: the driving video's and
        ``order_by``'s together; None without either."""
        parts = []
        if self.driving_frames is not None:
            parts.append(self.driving_magnitudes())
        if self._order_alpha is not None:
            parts.append(np.asarray(self._order_alpha, np.float64).reshape(-1, self.m))
        return np.concatenate(parts) if parts else None

    def _initial_ranges(self, value_range, step):
        source = self.state.alpha[0].float().cpu().numpy()
        return R.slider_ranges(self.m, self.data_magnitudes(), source, value_range, step)

    def _show_notes(self) -> None:
        for i, label in enumerate(self.spread_labels):
            flag = (
                "<span style='color:#d35400' title='widened to hold a value'>↔</span> "
                if i in self.widened
                else ""
            )
            v = f"{self.importance_kind} {self.importance[i]:.2f}" if self.importance.any() else ""
            label.value = f"<span style='font-size:11px;color:#777'>{flag}{v}</span>"
        where = {
            "data": f"ranges from the data: ±max(3σ, max|A_t − A_s|) ×{R.MARGIN}",
            "default": f"ranges: default {R.DEFAULT_RANGE[0]:g}..{R.DEFAULT_RANGE[1]:g}"
            " (no clips given)",
            "given": "ranges: as given",
        }[self.range_source]
        order = {"σ": "spread σ of a_i over the clips", "gain": "encoder gain"}.get(
            self.importance_kind, "index"
        )
        widened = f"<br>↔ widened: {len(self.widened)}" if self.widened else ""
        self.info.value = (
            "<div style='font-size:12px;color:#444;line-height:1.5'>"
            "<b>0 = reconstruction</b> of the source (z<sub>s→s</sub>)<br>"
            f"{where}<br>importance: {order}{widened}</div>"
        )

    # ---- values -------------------------------------------------------------------------------
    def values(self) -> np.ndarray:
        """The current edit e (M,), in direction order."""
        return np.array([s.value for s in self.sliders], dtype=np.float32)

    def ranges(self) -> np.ndarray:
        """Each slider's (min, max), (M, 2), in direction order."""
        return np.array([(s.min, s.max) for s in self.sliders], dtype=np.float64)

    def _place(self, i: int, x: float, exact: bool) -> None:
        """Set slider i to x on its step grid; a ``DirectionSlider`` widens to hold it. ``exact``
        refines the step (down to 1/1000) until x lies on the grid (a preset's values)."""
        s = self.sliders[i]
        s.value = x  # widens the range first when x lies outside
        if exact:
            floor = s.step / 1000
            while abs(R.snap(x, s.min, s.step) - x) > 1e-6 and s.step / 10 >= floor * 0.999:
                s.step = round(s.step / 10, 12)
        snapped = R.snap(x, s.min, s.step)
        s.value = min(max(snapped, s.min), s.max)  # the grid's last step may pass the end
        self._note_widened(i)

    def _note_widened(self, i: int) -> bool:
        s = self.sliders[i]
        lo, hi = self._base_ranges[i]
        if i in self.widened or (s.min >= lo and s.max <= hi):
            return False
        self.widened.add(i)
        return True

    def set_values(self, values, render: bool = True, exact: bool = False) -> None:
        """Move every slider at once: one render, not M. A value beyond its slider's range widens
        that slider (flagged with ↔) instead of being clipped; values snap to the slider step
        (``exact``: the step is refined instead, so the values are kept as given)."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.size != self.m:
            raise AnalysisError(f"expected {self.m} values, got {v.size}")
        if not np.isfinite(v).all():
            raise AnalysisError("values must be finite numbers")
        before = len(self.widened)
        self._quiet = True
        try:
            for i, x in enumerate(v):
                self._place(i, float(x), exact)
        finally:
            self._quiet = False
        if len(self.widened) > before:
            self.log(f"note: widened {len(self.widened) - before} slider(s) to hold the values")
            self._show_notes()
        if render:
            self.request_render(final=True)

    def reset(self, index: int | None = None) -> None:
        """Reset one slider (or all, with no index) to 0."""
        v = np.zeros(self.m) if index is None else self.values()
        if index is not None:
            v[index] = 0.0
        self.set_values(v)

    def randomize(self, seed: int | None = None, scale: float = 1.0) -> np.ndarray:
        """A random edit, e_i ~ N(0, (scale * half-range_i / 3)^2) kept inside each slider's
        range: one render. Returns it (as set, on the sliders' steps)."""
        rng = self._rng if seed is None else np.random.default_rng(seed)
        half = np.abs(self.ranges()).min(axis=1)
        e = random_edit(self.m, scale * half / 3.0, half, rng)
        self.set_values(e)
        return self.values()

    def set_names(self, names: list[str]) -> None:
        names = direction_labels(self.m, names)
        for box, name in zip(self.name_boxes, names, strict=True):
            box.value = name  # updates self.names through the observer

    def _on_name(self, index: int, name: str) -> None:
        self.names[index] = name
        self.sweep_direction.options = self._direction_options()

    def _direction_options(self) -> list[tuple[str, int]]:
        return [(self.names[i], i) for i in self.order]

    # ---- rendering ----------------------------------------------------------------------------
    def _on_slider(self, change) -> None:
        if self._quiet:
            return
        if self._note_widened(self.sliders.index(change["owner"])):
            self.log("note: widened 1 slider to hold its value")
            self._show_notes()
        v = self.values()
        # the browser sends back values it snapped to the step: the same edit, not a new one
        if self._last_values is not None and np.allclose(v, self._last_values, atol=1e-7):
            return
        self.request_render()

    def request_render(self, final: bool = False) -> None:
        """Render the current values (on the worker thread when threaded; latest wins).
        ``final``: one full render (buttons); otherwise previews while values keep coming."""
        self._last_values = self.values()
        self.renderer.submit(self._last_values, final=final)

    def render_now(self) -> np.ndarray:
        """Render the current values here and now, and return the image (S, S, 3) uint8."""
        self._last_values = self.values()
        try:
            self._render(self._last_values)
        except Exception as e:
            self.report_error(e)
        return self.current_image

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Wait until pending renders are done (for scripts and tests)."""
        return self.renderer.wait(timeout)

    def _show(self, img: np.ndarray) -> bytes:
        shown = self.decoder.difference(img) if self.diff_toggle.value else img
        if self.photo_toggle.value and self.placed is not None and not self.placed.whole:
            shown = letterbox(self.placed.paste(self.photo, shown), self.display_size)
        data = png(shown, self.display_size)
        self.image.value = data
        return data

    def _render(self, e: np.ndarray) -> None:
        t0 = time.perf_counter()
        img = self.decoder.full(e)
        t1 = time.perf_counter()
        self._show(img)
        t2 = time.perf_counter()
        self.current_image = img
        self.last_render_s = t2 - t0
        self._status(
            f"last render {1000 * (t2 - t0):.0f} ms "
            f"(decode {1000 * (t1 - t0):.0f}, PNG {1000 * (t2 - t1):.0f})"
        )

    def _preview(self, e: np.ndarray) -> bool:
        t0 = time.perf_counter()
        img, full = self.decoder.preview(e)
        self._show(img)
        dt = time.perf_counter() - t0
        if full:
            self.current_image = img
            self.last_render_s = dt
            self._status(f"last render {1000 * dt:.0f} ms")
        else:
            self._status(f"preview {1000 * dt:.0f} ms at {img.shape[0]} px; full image on rest")
        return full

    def _status(self, text: str, color: str = "#555", busy: bool | None = None) -> None:
        """The one status line, in a fixed place: a busy dot (orange while rendering) and text."""
        if busy is None:
            busy = self.renderer.busy if hasattr(self, "renderer") else False
        dot = f"<span style='color:{'#e67e22' if busy else '#27ae60'}'>●</span>"
        self._status_text, self._status_color = text, color
        self.status.value = (
            f"<div style='font-size:12px;color:{color};{_LINE}'>{dot} {html.escape(text)}</div>"
        )

    def _on_busy(self, busy: bool) -> None:
        text = getattr(self, "_status_text", "")
        color = getattr(self, "_status_color", "#555")
        self._status("rendering…" if busy and color != "#c0392b" else text, color, busy)

    def report_error(self, exc: BaseException) -> None:
        """The error as one short line in the status place (the full text goes to the log)."""
        super().report_error(exc)
        self._status(self.errors[-1], color="#c0392b")

    def _on_diff(self) -> None:
        on = self.diff_toggle.value
        self.image_caption.value = (
            f"<div style='text-align:center;font-size:12px'>|edit − reconstruction| ×{DIFF_GAIN:g}"
            "</div>"
            if on
            else "<div style='text-align:center;font-size:12px'>edit (all 0 = reconstruction)</div>"
        )
        self._show(self.current_image)

    # ---- driving video ------------------------------------------------------------------------
    def driving_magnitudes(self) -> np.ndarray:
        """Magnitudes A (T, M) of the driving frames (computed once, on first use)."""
        if self.driving_frames is None:
            raise AnalysisError("no driving video: pass driving=... to DirectionExplorer")
        if self._driving_alpha is None:
            self._driving_alpha = frame_magnitudes(self.model, self.driving_frames)
        return self._driving_alpha

    def _on_frame(self, change) -> None:
        self.frame_image.value = png(self.driving_frames[change["new"]], 96)

    def take_motion_from_frame(self, index: int) -> np.ndarray:
        """Set the sliders to a driving frame's magnitudes relative to the source, e = A_t - A_s
        (then the edit is the absolute transfer of that frame, eq. 11). Returns e."""
        if self.driving_frames is None:
            raise AnalysisError("no driving video: pass driving=... to DirectionExplorer")
        if not 0 <= index < len(self.driving_frames):
            raise AnalysisError(
                f"frame {index} outside the driving video (0..{len(self.driving_frames) - 1})"
            )
        source = self.state.alpha[0].float().cpu().numpy()
        e = (self.driving_magnitudes()[index] - source).astype(np.float32)
        self.set_values(e)
        return e

    # ---- order --------------------------------------------------------------------------------
    def set_order(self, order) -> None:
        """Show the sliders in this order (a permutation of direction indices)."""
        order = [int(i) for i in order]
        if sorted(order) != list(range(self.m)):
            raise AnalysisError(f"order must be a permutation of 0..{self.m - 1}")
        self.order = order
        self.rows_box.children = [self.rows[i] for i in order]
        self.sweep_direction.options = self._direction_options()

    def order_by_variance(self, alpha=None) -> np.ndarray:
        """Order the sliders by the variance of each magnitude over ``alpha`` (N, M) (default:
        the driving video and ``order_by``), most-used first; each row shows its spread."""
        if alpha is None:
            alpha = self.data_magnitudes()
            if alpha is None:
                raise AnalysisError("no magnitudes to order by: pass driving= or order_by=")
        self.importance = np.sqrt(direction_variance(alpha))
        self.importance_kind = "σ"
        self._show_notes()
        order = variance_order(alpha)
        self.set_order(order)
        return order

    def _on_order(self, change) -> None:
        if change["new"] == "importance" and self.importance_kind != "none":
            self.set_order(np.argsort(-self.importance, kind="stable"))
        else:
            self.set_order(range(self.m))

    # ---- edit, then animate -------------------------------------------------------------------
    def animate(
        self,
        mode: str = "relative",
        max_frames: int | None = None,
        mute: list[int] | None = None,
        motion_scale: float | None = None,
    ) -> np.ndarray:
        """Animate the edited source with the driving video (``liaviz.pipelines.animate`` with
        ``edit`` = the sliders) and show it beside the driving frames. Returns (T, S, S, 3).
        ``mute`` (1-based) and ``motion_scale`` default to the mixer panel's toggles and box."""
        from ..pipelines.animate import animate

        if self.driving_frames is None:
            raise AnalysisError("no driving video: pass driving=... to DirectionExplorer")
        driving = self.driving_frames[: count_or_none(max_frames, "max_frames", AnalysisError)]
        self.progress.max, self.progress.value = len(driving), 0
        frames = []
        mute = self.mixer.mute() if mute is None else mute
        scale = self.mixer.motion_scale() if motion_scale is None else motion_scale
        for frame in animate(
            self.model, self.state, driving, mode=mode, edit=self.values(), precision=self.precision,
            mute=mute, motion_scale=scale,
        ):  # fmt: skip
            frames.append(frame)
            self.progress.value = len(frames)
        self.last_animation = np.stack(frames)
        side = np.concatenate([driving, self.last_animation], axis=2)
        caption = f"driving (left) and the edited source, {mode} mode"
        self.animation_box.children = [play(side, 12.0, self.display_size, caption)]
        self.log(f"animated {len(frames)} frames ({mode})")
        return self.last_animation


__all__ = ["DirectionExplorer"]
