"""``DirectionExplorer``: one slider per motion direction d_i, and the source edited live.

The edited code is the paper's linear manipulation (Fig. 6), z = z_{s->s} + sum_i e_i d_i: with
every slider at 0 the image is the source's reconstruction. The source is encoded once; each
slider event only decodes. Renders run on a worker thread and the newest slider value wins, so
dragging never queues renders; ``threaded=False`` renders inline (scripts, tests).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from .. import analysis
from ..analysis import AnalysisError, MagnitudeSet
from ..io import Crop
from ..nn import LIA
from ._common import View, image_widget, play, png
from ._render import LatestValueRenderer
from .presets import Preset, load_preset, save_preset


class DirectionExplorer(View):
    """Sliders for every direction d_i of ``model``, applied to ``image``.

    ``driving`` (optional: a video path, uint8 (T, H, W, 3) frames, or an iterable of frames)
    enables "take motion from a frame", ordering the sliders by how much each direction varies
    over it, and animating the edited source. ``order_by`` gives magnitudes (N, M) or a
    ``MagnitudeSet`` to order by instead. Files (presets, PNG, sweeps) go to ``folder``.
    """

    def __init__(
        self,
        model: LIA,
        image,
        *,
        driving=None,
        names: list[str] | None = None,
        value_range: tuple[float, float] = (-3.0, 3.0),
        step: float = 0.05,
        display_size: int = 256,
        precision: analysis.Precision = "auto",
        folder: str = "explorer_out",
        max_driving_frames: int = 300,
        order_by=None,
        crop: Crop = "center",
        threaded: bool = True,
    ) -> None:
        lo, hi = (float(v) for v in value_range)
        if not lo < 0 < hi:
            raise AnalysisError(f"value_range must contain 0 strictly inside, got {value_range}")
        if step <= 0:
            raise AnalysisError(f"step must be positive, got {step}")
        self.model = model
        self.m = model.config.motion_dim
        self.value_range = (lo, hi)
        self.display_size = display_size
        self.precision = analysis.resolve_precision(precision, analysis.model_device(model))
        self.source = analysis.prepare_image(model, image, crop)
        self.state = analysis.encode(model, self.source)  # cached: slider events only decode
        self.names = analysis.direction_names(self.m, names)
        self.order = list(range(self.m))
        self.current_image = self.source
        self.last_render_s: float | None = None
        self.last_animation: np.ndarray | None = None
        self._quiet = False
        self._rng = np.random.default_rng()
        self._order_alpha = order_by.alpha if isinstance(order_by, MagnitudeSet) else order_by
        self.driving_frames = self._read_driving(driving, crop, max_driving_frames)
        self._driving_alpha: np.ndarray | None = None
        self._build(step, folder)
        self.renderer = LatestValueRenderer(self._render, self.report_error, threaded=threaded)
        self.render_now()

    # ---- layout -------------------------------------------------------------------------------
    def _build(self, step: float, folder: str) -> None:
        lo, hi = self.value_range
        W = widgets
        self.sliders, self.name_boxes, self.reset_buttons, self.spread_labels = [], [], [], []
        self.rows = []
        for i in range(self.m):
            slider = W.FloatSlider(
                value=0.0,
                min=lo,
                max=hi,
                step=step,
                continuous_update=True,
                readout_format=".2f",
                layout=W.Layout(width="260px"),
            )
            slider.observe(self._on_slider, names="value")
            slider.add_class("liaviz-direction-slider")  # CSS hooks for styling and browser tests
            name = W.Text(
                value=self.names[i],
                tooltip=f"name of direction d{i + 1}",
                layout=W.Layout(width="80px"),
            )
            name.observe(lambda ch, i=i: self._on_name(i, ch["new"]), names="value")
            reset = W.Button(
                description="↺", tooltip=f"reset d{i + 1}", layout=W.Layout(width="32px")
            )
            reset.on_click(lambda _, i=i: self.guarded(self.reset, i))
            spread = W.HTML(layout=W.Layout(width="64px"))
            self.sliders.append(slider)
            self.name_boxes.append(name)
            self.reset_buttons.append(reset)
            self.spread_labels.append(spread)
            # fixed-height rows: the column scrolls instead of squeezing them
            row = W.HBox([name, slider, reset, spread], layout=W.Layout(flex="0 0 auto"))
            self.rows.append(row)
        self.rows_box = W.VBox(
            list(self.rows),
            layout=W.Layout(max_height=f"{max(self.display_size + 60, 300)}px", overflow="auto"),
        )

        self.image = image_widget(None, self.display_size)
        self.image.add_class("liaviz-explorer-image")
        self.status = W.HTML()
        self.output = W.Output(
            layout=W.Layout(max_height="140px", overflow="auto", border="1px solid #ddd")
        )

        self.reset_all_button = W.Button(description="Reset all", tooltip="every slider to 0")
        self.reset_all_button.on_click(lambda _: self.guarded(self.reset))
        self.randomize_button = W.Button(description="Randomize", tooltip="random edit, N(0, 1)")
        self.randomize_button.on_click(lambda _: self.guarded(self.randomize))
        self.order_checkbox = W.Checkbox(
            value=False,
            description="order by variance",
            indent=False,
            disabled=self.driving_frames is None and self._order_alpha is None,
            tooltip="most-used directions first (variance of the magnitudes over the video)",
        )
        self.order_checkbox.observe(self._on_order, names="value")
        controls = [self.reset_all_button, self.randomize_button, self.order_checkbox]

        self.folder_box = W.Text(value=folder, description="folder", layout=W.Layout(width="220px"))
        self.file_name_box = W.Text(
            value="edit", description="name", layout=W.Layout(width="180px")
        )
        self.save_preset_button = W.Button(description="Save preset")
        self.save_preset_button.on_click(lambda _: self.guarded(self.save_preset))
        self.load_preset_button = W.Button(description="Load preset")
        self.load_preset_button.on_click(lambda _: self.guarded(self.load_preset))
        self.export_png_button = W.Button(description="Export PNG")
        self.export_png_button.on_click(lambda _: self.guarded(self.export_png))
        self.sweep_direction = W.Dropdown(
            options=self._direction_options(), layout=W.Layout(width="110px")
        )
        self.sweep_format = W.Dropdown(options=["gif", "mp4"], layout=W.Layout(width="70px"))
        self.export_sweep_button = W.Button(description="Export sweep")
        self.export_sweep_button.on_click(
            lambda _: self.guarded(self.export_sweep, self.sweep_direction.value)
        )
        files = W.VBox(
            [
                W.HBox([self.folder_box, self.file_name_box]),
                W.HBox([self.save_preset_button, self.load_preset_button, self.export_png_button]),
                W.HBox([self.sweep_direction, self.sweep_format, self.export_sweep_button]),
            ]
        )

        parts = [
            W.HBox(
                [W.VBox([self.image, self.status]), self.rows_box],
                layout=W.Layout(align_items="flex-start"),
            ),
            W.HBox(controls),
        ]
        if self.driving_frames is not None:
            n = len(self.driving_frames)
            self.frame_slider = W.IntSlider(value=0, min=0, max=n - 1, description="frame")
            self.frame_image = image_widget(self.driving_frames[0], 96)
            self.frame_slider.observe(self._on_frame, names="value")
            self.take_motion_button = W.Button(
                description="Take motion from frame", layout=W.Layout(width="190px")
            )
            self.take_motion_button.on_click(
                lambda _: self.guarded(self.take_motion_from_frame, self.frame_slider.value)
            )
            self.mode = W.Dropdown(options=["relative", "absolute"], layout=W.Layout(width="100px"))
            self.animate_button = W.Button(description="Animate edit", button_style="primary")
            self.animate_button.on_click(lambda _: self.guarded(self.animate, self.mode.value))
            self.progress = W.IntProgress(min=0, max=n, layout=W.Layout(width="200px"))
            self.animation_box = W.Box()
            parts.append(
                W.HBox(
                    [
                        self.frame_image,
                        W.VBox(
                            [
                                W.HBox([self.frame_slider, self.take_motion_button]),
                                W.HBox([self.mode, self.animate_button, self.progress]),
                            ]
                        ),
                    ]
                )
            )
            parts.append(self.animation_box)
        parts += [files, self.output]
        self.widget = W.VBox(parts)
        self.widget.add_class("liaviz-explorer")

    def _direction_options(self) -> list[tuple[str, int]]:
        return [(self.names[i], i) for i in range(self.m)]

    # ---- values -------------------------------------------------------------------------------
    def values(self) -> np.ndarray:
        """The current edit e (M,), in direction order."""
        return np.array([s.value for s in self.sliders], dtype=np.float32)

    def set_values(self, values, render: bool = True) -> None:
        """Move every slider at once (one render, not M). Values beyond the range are clipped."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.size != self.m:
            raise AnalysisError(f"expected {self.m} values, got {v.size}")
        lo, hi = self.value_range
        clipped = np.clip(v, lo, hi)
        if not np.allclose(clipped, v):
            self.log(f"note: {int((clipped != v).sum())} value(s) clipped to [{lo:g}, {hi:g}]")
        self._quiet = True
        try:
            for slider, x in zip(self.sliders, clipped, strict=True):
                slider.value = float(x)
        finally:
            self._quiet = False
        if render:
            self.request_render()

    def reset(self, index: int | None = None) -> None:
        """Reset one slider (or all, with no index) to 0."""
        if index is None:
            self.set_values(np.zeros(self.m))
        else:
            self.sliders[index].value = 0.0

    def randomize(self, seed: int | None = None, scale: float = 1.0) -> np.ndarray:
        """A random edit, e_i ~ N(0, scale^2) clipped to the range. Returns it."""
        rng = self._rng if seed is None else np.random.default_rng(seed)
        e = analysis.random_edit(self.m, scale, max(abs(v) for v in self.value_range), rng)
        self.set_values(e)
        return e

    def set_names(self, names: list[str]) -> None:
        names = analysis.direction_names(self.m, names)
        for box, name in zip(self.name_boxes, names, strict=True):
            box.value = name  # updates self.names through the observer

    def _on_name(self, index: int, name: str) -> None:
        self.names[index] = name
        self.sweep_direction.options = self._direction_options()

    # ---- rendering ----------------------------------------------------------------------------
    def _on_slider(self, change) -> None:
        if not self._quiet:
            self.request_render()

    def request_render(self) -> None:
        """Render the current values (on the worker thread when threaded; latest wins)."""
        self.renderer.submit(self.values())

    def render_now(self) -> np.ndarray:
        """Render the current values here and now, and return the image (S, S, 3) uint8."""
        try:
            self._render(self.values())
        except Exception as e:
            self.report_error(e)
        return self.current_image

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Wait until pending renders are done (for scripts and tests)."""
        return self.renderer.wait(timeout)

    def _render(self, e: np.ndarray) -> None:
        t0 = time.perf_counter()
        img = analysis.edit_images(self.model, self.state, e[None], 1, self.precision)[0]
        t1 = time.perf_counter()
        data = png(img, self.display_size)
        t2 = time.perf_counter()
        self.image.value = data
        self.current_image = img
        self.last_render_s = t2 - t0
        text = (
            f"last render {1000 * (t2 - t0):.0f} ms "
            f"(decode {1000 * (t1 - t0):.0f} ms, PNG {1000 * (t2 - t1):.0f} ms)"
        )
        r = getattr(self, "renderer", None)  # absent during the first render in __init__
        if r is not None and r.submitted > r.rendered + 1:
            # rendered counts this render only when it returns; the rest were superseded
            text += f" · {r.submitted - r.rendered - 1} stale value(s) skipped so far"
        self.status.value = f"<span style='color:#555;font-size:12px'>{text}</span>"

    # ---- driving video ------------------------------------------------------------------------
    def _read_driving(self, driving, crop: Crop, max_frames: int) -> np.ndarray | None:
        if driving is None:
            return None
        from ..animate import DrivingVideo

        frames = []
        for u8, _ in DrivingVideo(driving, self.model.config.size, crop).batches(16, tensors=False):
            frames.append(u8)
            if sum(len(f) for f in frames) >= max_frames:
                break
        out = np.concatenate(frames)[:max_frames]
        if len(out) < 1:
            raise AnalysisError("the driving video has no frames")
        return out

    def driving_magnitudes(self) -> np.ndarray:
        """Magnitudes A (T, M) of the driving frames (computed once, on first use)."""
        if self.driving_frames is None:
            raise AnalysisError("no driving video: pass driving=... to DirectionExplorer")
        if self._driving_alpha is None:
            self._driving_alpha = analysis.frame_magnitudes(self.model, self.driving_frames)
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
        e = analysis.motion_from_frame(self.model, self.state, self.driving_frames[index])
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

    def order_by_variance(self, alpha=None) -> np.ndarray:
        """Order the sliders by the variance of each magnitude over ``alpha`` (N, M) (default:
        the driving video), most-used first; each row shows its standard deviation."""
        if alpha is None:
            alpha = (
                self._order_alpha if self._order_alpha is not None else self.driving_magnitudes()
            )
        var = analysis.direction_variance(alpha)
        for label, v in zip(self.spread_labels, var, strict=True):
            label.value = f"<span style='font-size:11px;color:#777'>σ {np.sqrt(v):.2f}</span>"
        order = analysis.order_by_variance(alpha)
        self.set_order(order)
        return order

    def _on_order(self, change) -> None:
        if change["new"]:
            if self.guarded(self.order_by_variance) is None:
                self.order_checkbox.value = False
        else:
            self.set_order(range(self.m))

    # ---- files --------------------------------------------------------------------------------
    def _path(self, path, suffix: str) -> Path:
        if path is not None:
            return Path(path)
        folder = Path(self.folder_box.value).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        stem = _safe(self.file_name_box.value) or "edit"
        return folder / f"{stem}{suffix}"

    def preset(self) -> Preset:
        order = self.order if self.order != list(range(self.m)) else None
        return Preset(self.values().tolist(), list(self.names), order)

    def save_preset(self, path=None) -> Path:
        """Save values, names and slider order as JSON (default: folder/name.json)."""
        out = save_preset(self.preset(), self._path(path, ".json"))
        self.log(f"saved preset {out}")
        return out

    def load_preset(self, path=None) -> None:
        """Load values, names and order from a preset JSON (default: folder/name.json)."""
        p = self._path(path, ".json")
        preset = load_preset(p, self.m)
        self.set_names(preset.names)
        self.set_order(preset.order if preset.order is not None else range(self.m))
        self.set_values(preset.values)
        self.log(f"loaded preset {p}")

    def export_png(self, path=None) -> Path:
        """Write the current image (at the model's size) as PNG (default: folder/name.png)."""
        self.wait()
        out = analysis.write_bytes_atomic(
            self._path(path, ".png"), analysis.encode_png(self.current_image, 6)
        )
        self.log(f"saved image {out}")
        return out

    def export_sweep(
        self, direction: int, path=None, fmt: str | None = None, fps: float = 12.0
    ) -> Path:
        """Write a looping sweep of one direction (0 -> +3 -> -3 -> 0, on top of the current
        edit) as GIF or MP4 (default: folder/name_sweep_<direction name>.<format>)."""
        fmt = fmt or self.sweep_format.value
        if path is None:
            base = self._path(None, "")
            path = base.with_name(
                f"{base.name}_sweep_{_safe(self.names[direction]) or direction + 1}.{fmt}"
            )
        lo, hi = self.value_range
        up = np.linspace(0.0, hi, 13)
        down = np.linspace(0.0, lo, 13)
        values = np.concatenate([up, up[-2::-1], down[1:], down[-2:0:-1]])
        out = analysis.write_sweep(
            self.model,
            self.state,
            direction,
            path,
            values,
            fps,
            precision=self.precision,
            base=self.values(),
        )
        self.log(f"saved sweep of {self.names[direction]} to {out}")
        return out

    # ---- edit, then animate -------------------------------------------------------------------
    def animate(self, mode: str = "relative", max_frames: int | None = None) -> np.ndarray:
        """Animate the edited source with the driving video (``liaviz.animate`` with
        ``edit`` = the sliders) and show it beside the driving frames. Returns (T, S, S, 3)."""
        from ..animate import animate

        if self.driving_frames is None:
            raise AnalysisError("no driving video: pass driving=... to DirectionExplorer")
        driving = self.driving_frames[:max_frames]
        self.progress.max, self.progress.value = len(driving), 0
        frames = []
        for frame in animate(
            self.model, self.state, driving, mode=mode, edit=self.values(), precision=self.precision
        ):
            frames.append(frame)
            self.progress.value = len(frames)
        self.last_animation = np.stack(frames)
        side = np.concatenate([driving, self.last_animation], axis=2)
        caption = f"driving (left) and the edited source, {mode} mode"
        self.animation_box.children = [play(side, 12.0, self.display_size, caption)]
        self.log(f"animated {len(frames)} frames ({mode})")
        return self.last_animation


def _safe(name: str) -> str:
    """A file-name-safe version of a user-typed name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._")


__all__ = ["DirectionExplorer"]
