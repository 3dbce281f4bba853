"""``DirectionExplorer``: one slider per motion direction d_i, and the source edited live.

The edited code is the paper's linear manipulation (Fig. 6), z = z_{s->s} + sum_i e_i d_i: with
every slider at 0 the image is the source's reconstruction, shown beside the source. The source is
encoded once; each slider event only decodes. Renders run on a worker thread and the newest value
wins; while a slider moves a coarser decoder level previews the edit, and the full image follows
when it rests. ``threaded=False`` renders inline and in full (scripts, tests).

By composition: ``ExplorerWidgets`` builds the widgets, ``ExplorerFiles`` writes files,
``DrivingControls`` takes motion from a clip and animates, ``MixerPanel`` holds the mixer; the
explorer declares its state below and wires every handler in ``_wire``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..analysis import AnalysisError, ranges
from ..analysis.edits import direction_labels, random_edit
from ..analysis.magnitudes import Ranking, rank_directions
from ..analysis.mixer import direction_number
from ..io import Crop
from ..nn import LIA
from ..runtime.device import Precision, model_device, resolve_precision
from ._common import View
from ._explorer_canvas import EditCanvas
from ._explorer_driving import DrivingControls
from ._explorer_files import ExplorerFiles, input_files
from ._explorer_layout import ExplorerWidgets
from ._explorer_source import GALLERY, ExplorerSource, check_display_size, read_upload
from ._render import LatestValueRenderer
from .mixer_panel import MixerPanel, anatomy_panel


class DirectionExplorer(View):
    """Sliders for every direction d_i of ``model``, applied to ``image`` (default: the Mona Lisa).
    A whole photo is cropped around its face (``crop="auto"``, ``liaviz.faces``) and the "in the
    photo" toggle shows each edit pasted back into it. Upload boxes and a gallery change the
    portrait and the driving clip without code.

    Names: measured on the portrait shown (``anatomy="auto"``, ``liaviz.analysis.anatomy``), or from
    ``anatomy`` (an ``Anatomy``, a directions.json, True, None) or ``names`` (a list, a
    directions.json). Renames save with presets and export as directions.json.

    Order: one ``liaviz.analysis.magnitudes.Ranking`` (``ranking``), shown alike by the sliders,
    the mixer and the sweep list: the spread σ of each magnitude over ``order_by`` (magnitudes
    (N, M) or a ``MagnitudeSet``, e.g. every clip of the notebook), else over the ``driving``
    clip, else the encoder's gain. ``driving`` (a video path, uint8 (T, H, W, 3) frames, or an
    iterable of frames) and ``order_by`` set the slider ranges (every frame's A_t - A_s fits);
    without either, sliders span ``ranges.DEFAULT_RANGE``. ``value_range`` forces one range on
    all. A value beyond a range (typed, a preset, "take motion") widens it (↔), never clips.
    Files (presets, PNG, sweeps, names) go to ``folder``."""

    # ---- the explorer's state: all of it, declared here and set in __init__ ------------------
    model: LIA
    m: int  # number of directions M
    display_size: int
    precision: Precision
    inputs: list  # the files it read: no export writes over them
    names: list[str]  # one per direction, in direction order
    order: list[int]  # the sliders' order (direction indices)
    ranking: Ranking  # the importance order every view shows
    widened: set[int]  # directions whose range grew to hold a value
    range_source: str  # "data", "default" or "given"
    # its parts: ui (ExplorerWidgets), source_model (ExplorerSource), driving (DrivingControls),
    # files (ExplorerFiles), mixer (MixerPanel), canvas (EditCanvas), renderer (LatestValueRenderer)
    _base_ranges: list[tuple[float, float]]  # the ranges before any widening
    _quiet: bool  # set_values is moving many sliders: one render at the end
    _last_values: np.ndarray | None  # the last values sent to the renderer
    _crop: Crop  # how portraits are brought to the model's size

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
        anatomy="auto",
    ) -> None:
        ranges.check_slider_options(value_range, step)
        self.model, self.m = model, model.config.motion_dim
        self.display_size = check_display_size(display_size)
        self.inputs = input_files(image, driving, names, anatomy)
        self.precision = resolve_precision(precision, model_device(model))
        self.source_model = ExplorerSource(model, self.precision, preview_budget_s, anatomy)
        self.source_model.set(image, crop)
        self.names = self.source_model.names(names)
        self.driving = DrivingControls(self, order_by, max_driving_frames, crop)
        self.driving.set_frames(driving)
        self.ranking = self.driving.ranking()
        self.order = self.ranking.order
        self.widened = set()
        self._value_range, self._step, self._crop = value_range, step, crop
        self._quiet, self._last_values = False, None
        self._rng = np.random.default_rng()
        lo_hi, self.range_source = self.driving.slider_ranges(value_range)
        self._base_ranges = [tuple(r) for r in lo_hi]
        self.mixer = MixerPanel(self.names, self.anatomy, self.guarded, self.order)
        self.ui = ExplorerWidgets(
            self.names, lo_hi, self.display_size, folder, self.driving.n_frames,
            self.placed_in_photo, self.mixer, anatomy_panel(self.anatomy), list(GALLERY),
        )  # fmt: skip
        self.widget, self.status, self.log_box = self.ui.widget, self.ui.status, self.ui.log_box
        self.ui.set_ranges(lo_hi, step)
        self.files = ExplorerFiles(self)
        self.canvas = EditCanvas(self.ui, self.source_model, self.display_size)
        self.renderer = LatestValueRenderer(
            self.canvas.render, self.report_error, threaded=threaded,
            preview=self.canvas.preview, on_busy=self.canvas.on_busy,
        )  # fmt: skip
        self._wire()
        self.canvas.show_source()
        self.driving.show_frame(0)
        self.set_order(self.order)
        self.files.refresh_presets()
        self.render_now()

    # ---- wiring: every handler, named where it is wired ---------------------------------------
    def _wire(self) -> None:
        ui, act = self.ui, self.act
        for i, (slider, box, name, reset) in enumerate(
            zip(ui.sliders, ui.value_boxes, ui.name_boxes, ui.reset_buttons, strict=True)
        ):
            slider.observe(self._on_slider, names="value")
            box.observe(lambda ch, i=i: self.guarded(self._on_typed, i, ch["new"]), names="value")
            name.observe(lambda ch, i=i: self._on_name(i, ch["new"]), names="value")
            reset.on_click(lambda _, i=i: self.guarded(self.reset, i + 1))
        ui.diff_toggle.observe(lambda _: self.guarded(self.canvas.show_current), names="value")
        ui.photo_toggle.observe(lambda _: self.guarded(self.canvas.show_current), names="value")
        ui.reset_all_button.on_click(lambda _: self.guarded(self.reset))
        ui.randomize_button.on_click(lambda _: self.guarded(self.randomize))
        ui.order_dropdown.observe(lambda ch: self.guarded(self._on_order, ch), names="value")
        ui.frame_slider.observe(
            lambda ch: self.guarded(self.driving.show_frame, ch["new"]), "value"
        )
        files = ui.files_message
        ui.take_motion_button.on_click(
            lambda _: act(ui.animate_message, self.take_motion_from_frame, ui.frame_slider.value)
        )
        ui.animate_button.on_click(lambda _: act(ui.animate_message, self.animate, ui.mode.value))
        ui.folder_box.observe(lambda _: self.guarded(self.files.refresh_presets), names="value")
        ui.save_preset_button.on_click(lambda _: act(files, self.save_preset))
        ui.load_preset_button.on_click(lambda _: act(files, self.load_preset))
        ui.export_names_button.on_click(lambda _: act(files, self.export_names))
        ui.export_png_button.on_click(lambda _: act(files, self.export_png))
        ui.export_sweep_button.on_click(
            lambda _: act(files, self.export_sweep, ui.sweep_direction.value + 1)
        )
        ui.portrait_upload.observe(lambda ch: self._on_upload(ch, "portrait"), names="value")
        ui.driving_upload.observe(lambda ch: self._on_upload(ch, "driving"), names="value")
        for button, name in zip(ui.gallery_buttons, GALLERY, strict=True):
            button.on_click(lambda _, n=name: act(ui.inputs_message, self.open_example, n))

    def _failed(self, place, message: str) -> None:
        if place is self.ui.files_message:  # no stale "last file" after a failed write
            self.files.forget_last_file(message)

    # ---- the source, its names and the shown image --------------------------------------------
    # the source's parts, read through (``ExplorerSource`` holds them)
    source = property(lambda self: self.source_model.source, doc="the source (S, S, 3) uint8")
    state = property(lambda self: self.source_model.state, doc="the encoded source")
    decoder = property(lambda self: self.source_model.decoder, doc="its ``EditDecoder``")
    anatomy = property(lambda self: self.source_model.anatomy, doc="what names the directions")
    photo = property(lambda self: self.source_model.photo, doc="the whole photo, if any")
    placed = property(lambda self: self.source_model.placed, doc="the face crop in the photo")

    @property
    def placed_in_photo(self) -> bool:
        return self.placed is not None and not self.placed.whole

    def set_source(self, image, crop: Crop | None = None) -> None:
        """Explore another portrait (a path or uint8 image; ``crop`` as the explorer's): encoded
        once, its anatomy measured again when the names came from one (renames are replaced),
        the sliders kept."""
        self.source_model.set(image, self._crop if crop is None else crop)
        if self.source_model.measured:
            self.set_names(self.source_model.names(None))
        self.canvas.show_source()
        self.render_now()
        self.log(f"new portrait {self.source.shape[1]}x{self.source.shape[0]} (model size)")

    def set_driving(self, driving) -> None:
        """Drive with another clip: new frames, ranges (values kept, widened if need be) and,
        unless ``order_by`` was given, a new importance order."""
        self.driving.set_frames(driving)
        lo_hi, self.range_source = self.driving.slider_ranges(self._value_range)
        self._base_ranges = [tuple(r) for r in lo_hi]
        self.ui.set_ranges(lo_hi, self._step)
        self.widened = set()
        self.ranking = self.driving.ranking()
        self.set_order(self.ranking.order)
        self.log(f"new driving clip: {self.driving.n_frames} frames")

    def open_example(self, name: str) -> None:
        """A gallery example: its portrait, then its saved slider settings."""
        example = GALLERY[name]
        self.set_source(example.image(), "auto")
        self.set_values(example.values(self.ranges(), self.order))
        self.log(f"example: {name} ({example.note})")

    def _on_upload(self, change, kind: str) -> None:
        if change["new"]:  # a portrait is encoded from memory; a clip is read from a file
            upload = read_upload(change["new"])
            if kind == "portrait":
                self.act(self.ui.inputs_message, self.set_source, upload.image())
            else:
                with upload.file() as path:
                    self.act(self.ui.inputs_message, self.set_driving, path)

    # ---- values -------------------------------------------------------------------------------
    def values(self) -> np.ndarray:
        """The current edit e (M,), in direction order."""
        return np.array([s.value for s in self.ui.sliders], dtype=np.float32)

    def ranges(self) -> np.ndarray:
        """Each slider's (min, max), (M, 2), in direction order."""
        return np.array([(s.min, s.max) for s in self.ui.sliders], dtype=np.float64)

    def _place(self, i: int, x: float, exact: bool) -> None:
        """Set slider i to x on its step grid; a ``DirectionSlider`` widens to hold it. ``exact``
        refines the step (down to 1/1000) until x lies on the grid (a preset's values)."""
        s = self.ui.sliders[i]
        # one message for range, step and value: sent apart, the browser's slider would redraw
        # on the new range with the old value, and send that old value back over the new one
        with s.hold_sync():
            s.value = x  # widens the range first when x lies outside
            if exact:
                floor = s.step / 1000
                while (
                    abs(ranges.snap(x, s.min, s.step) - x) > 1e-6 and s.step / 10 >= floor * 0.999
                ):
                    s.step = round(s.step / 10, 12)
            snapped = ranges.snap(x, s.min, s.step)
            s.value = min(max(snapped, s.min), s.max)  # the grid's last step may pass the end
        self.ui.value_boxes[i].value = round(float(s.value), 6)
        self._note_widened(i)

    def _note_widened(self, i: int) -> bool:
        s = self.ui.sliders[i]
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

    def reset(self, direction: int | None = None) -> None:
        """Reset one slider (``direction``, 1-based as everywhere) or all of them to 0."""
        v = np.zeros(self.m) if direction is None else self.values()
        if direction is not None:
            v[direction_number(direction, self.m, "reset", AnalysisError) - 1] = 0.0
        self.set_values(v)

    def randomize(self, seed: int | None = None, scale: float = 1.0) -> np.ndarray:
        """A random edit, e_i ~ N(0, (scale * half-range_i / 3)^2) kept inside each slider's
        range: one render. Returns it (as set, on the sliders' steps)."""
        rng = self._rng if seed is None else np.random.default_rng(seed)
        half = np.abs(self.ranges()).min(axis=1)
        e = random_edit(self.m, scale * half / 3.0, half, rng)
        self.set_values(e)
        return self.values()

    def _on_typed(self, i: int, x: float) -> None:
        """A value typed in a slider's box: placed like a preset's (widens, never clips)."""
        if self._quiet or abs(self.ui.sliders[i].value - x) < 1e-6:  # the box shows 6 decimals
            return
        v = self.values().astype(np.float64)
        v[i] = x
        self.set_values(v, exact=True)

    # ---- names and order ----------------------------------------------------------------------
    def set_names(self, names: list[str]) -> None:
        names = direction_labels(self.m, names)
        for box, name in zip(self.ui.name_boxes, names, strict=True):
            box.value = name  # updates self.names through the observer

    def _on_name(self, index: int, name: str) -> None:
        self.names[index] = name
        self.mixer.set_names(self.names)
        self.ui.sweep_direction.options = self._direction_options()

    def _direction_options(self) -> list[tuple[str, int]]:
        return [(self.names[i], i) for i in self.order]

    def set_order(self, order) -> None:
        """Show the sliders, the mixer's toggles and the sweep list in this order."""
        order = [int(i) for i in order]
        if sorted(order) != list(range(self.m)):
            raise AnalysisError(f"order must be a permutation of 0..{self.m - 1}")
        self.order = order
        self.ui.rows_box.children = [self.ui.rows[i] for i in order]
        self.mixer.set_order(order)
        self.ui.sweep_direction.options = self._direction_options()
        self._show_notes()

    def order_by_variance(self, alpha=None) -> np.ndarray:
        """Order every view by the spread of each magnitude over ``alpha`` (N, M) or a
        ``MagnitudeSet`` (default: ``order_by``, else the driving clip), most-used first."""
        if alpha is None and self.driving.data() is None:
            raise AnalysisError("no magnitudes to order by: pass driving= or order_by=")
        self.ranking = (
            self.driving.ranking() if alpha is None else rank_directions(self.model, alpha)
        )
        self.set_order(self.ranking.order)
        return np.array(self.order)

    importance = property(lambda self: self.ranking.values, doc="the ranking's values (M,)")
    importance_kind = property(lambda self: self.ranking.kind, doc="its measure")

    def _on_order(self, change) -> None:
        self.set_order(self.ranking.order if change["new"] == "importance" else range(self.m))

    def _show_notes(self) -> None:
        self.canvas.show_notes(self.ranking, self.widened, self.range_source, self.order)

    # ---- rendering ----------------------------------------------------------------------------
    def _on_slider(self, change) -> None:
        if self._quiet:  # set_values moves many sliders, then renders once
            return
        i = self.ui.sliders.index(change["owner"])
        self.ui.value_boxes[i].value = round(float(change["new"]), 6)
        if self._note_widened(i):
            self.log("note: widened 1 slider to hold its value")
            self._show_notes()
        v = self.values()  # the one values() of this event
        # the browser sends back values it snapped to the step: the same edit, not a new one
        if self._last_values is not None and np.allclose(v, self._last_values, atol=1e-7):
            return
        self.request_render(values=v)

    def request_render(self, final: bool = False, values: np.ndarray | None = None) -> None:
        """Render the current values (on the worker thread when threaded; latest wins).
        ``final``: one full render (buttons); otherwise previews while values keep coming."""
        self._last_values = self.values() if values is None else values
        self.renderer.submit(self._last_values, final=final)

    def render_now(self) -> np.ndarray:
        """Render the current values here and now, and return the image (S, S, 3) uint8."""
        self._last_values = self.values()
        try:
            self.canvas.render(self._last_values)
        except Exception as e:
            self.report_error(e)
        return self.current_image

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Wait until pending renders are done (for scripts and tests)."""
        return self.renderer.wait(timeout)

    def show_status(self, text: str) -> None:
        self.canvas.status(text)

    def report_error(self, exc: BaseException) -> None:
        """The error as one short line in the status place (the full text goes to the log)."""
        super().report_error(exc)
        self.canvas.status(self.errors[-1], color="#c0392b")

    @property
    def current_image(self) -> np.ndarray:
        """The last full render (S, S, 3) uint8."""
        return self.canvas.current_image

    @property
    def last_render_s(self) -> float | None:
        return self.canvas.last_render_s

    # ---- files and driving (their components do the work) -------------------------------------
    # presets and exports: see ``ExplorerFiles`` (default paths: folder/name.<ext>; 1-based
    # sweep directions; PNGs at the display size or ``scale`` x the model size, nearest)
    def save_preset(self, path=None) -> Path:
        """Save values, names and slider order as JSON."""
        return self.files.save_preset(path)

    def load_preset(self, path=None) -> Path:
        """Load values, names and order (default: the one picked in the list): one render."""
        return self.files.load_preset(path)

    def export_names(self, path=None) -> Path:
        """The names, renames included, as a directions.json (default: folder/directions.json)."""
        return self.files.export_names(path)

    def export_png(self, path=None, scale=None) -> Path:
        """The current image as PNG, at the display size or ``scale`` times the model's size."""
        return self.files.export_png(path, scale)

    def export_sweep(self, direction: int, path=None, fmt=None, fps=12.0, scale=None) -> Path:
        """A looping sweep (0 -> max -> min -> 0) of one direction over its range, GIF or MP4."""
        return self.files.export_sweep(direction, path, fmt, fps, scale)

    last_export = property(lambda self: self.files.last_export, doc="the last file written")
    driving_frames = property(lambda self: self.driving.frames, doc="(T, S, S, 3) uint8 or None")
    last_animation = property(lambda self: self.driving.last_animation, doc="(T, S, S, 3) uint8")

    def driving_magnitudes(self) -> np.ndarray:
        """Magnitudes A (T, M) of the driving frames (computed once, on first use)."""
        return self.driving.magnitudes()

    def take_motion_from_frame(self, index: int) -> np.ndarray:
        """Set the sliders to a driving frame's magnitudes relative to the source, e = A_t - A_s
        (then the edit is the absolute transfer of that frame, eq. 11). Returns e."""
        return self.driving.take_motion(index)

    def animate(self, mode="relative", max_frames=None, mute=None, motion_scale=None) -> np.ndarray:
        """Animate the edited source with the driving video (``liaviz.pipelines.animate`` with
        ``edit`` = the sliders) and show it beside the driving frames. Returns (T, S, S, 3).
        ``mute`` (1-based: a list, or text such as "1,2") and ``motion_scale`` default to the
        mixer's toggles and box; the caption lists them."""
        return self.driving.animate(mode, max_frames, mute, motion_scale)


__all__ = ["DirectionExplorer"]
