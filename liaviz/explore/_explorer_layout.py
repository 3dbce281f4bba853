"""The widgets of ``DirectionExplorer`` and where they sit (a mixin: the explorer's logic lives in
``direction_explorer``). A fixed layout: the source beside the edit, every slider visible (two
columns past ``ONE_COLUMN`` directions), fixed widths, and one status line in a fixed place."""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from ..analysis import ranges as R
from ._common import image_widget
from .mixer_panel import MixerPanel, anatomy_panel

ONE_COLUMN = 10  # up to this many directions the sliders stand in one column
ROW_WIDTH = 404  # px: name, slider with readout, reset, note (two fit in a notebook cell)
LINE = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis"


def caption(text: str, width: int) -> widgets.HTML:
    return widgets.HTML(
        f"<div style='text-align:center;font-size:12px;{LINE}'>{text}</div>",
        layout=widgets.Layout(width=f"{width}px"),
    )


class DirectionSlider(widgets.FloatSlider):
    """A ``FloatSlider`` that grows its range to hold a value set beyond it (from code, a preset
    or "take motion"), where ipywidgets' own slider would clip the value silently."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = float(proposal["value"])
        if not self.min <= value <= self.max:
            lo, hi = R.widened(self.min, self.max, value)
            if lo < self.min:
                self.min = lo
            if hi > self.max:
                self.max = hi
            self.step = min(self.step, R.nice_step(self.min, self.max))
        return value


class ExplorerLayout:
    """Builds every widget of the explorer as attributes, and ``widget``, the whole view."""

    def _build_rows(self, ranges, steps) -> None:
        W = widgets
        self.sliders, self.name_boxes, self.reset_buttons, self.spread_labels = [], [], [], []
        self.rows = []
        for i in range(self.m):
            slider = DirectionSlider(
                value=0.0,
                min=float(ranges[i][0]),
                max=float(ranges[i][1]),
                step=float(steps[i]),
                continuous_update=True,
                readout_format=".2f",
                layout=W.Layout(width="214px"),
            )
            slider.observe(self._on_slider, names="value")
            slider.add_class("liaviz-direction-slider")  # CSS hooks for styling and browser tests
            name = W.Text(
                value=self.names[i],
                tooltip=f"name of direction d{i + 1}",
                layout=W.Layout(width="88px"),
            )
            name.observe(lambda ch, i=i: self._on_name(i, ch["new"]), names="value")
            reset = W.Button(
                description="↺", tooltip=f"reset d{i + 1}", layout=W.Layout(width="32px")
            )
            reset.on_click(lambda _, i=i: self.guarded(self.reset, i))
            spread = W.HTML(layout=W.Layout(width="56px"))
            self.sliders.append(slider)
            self.name_boxes.append(name)
            self.reset_buttons.append(reset)
            self.spread_labels.append(spread)
            self.rows.append(
                W.HBox([name, slider, reset, spread], layout=W.Layout(width=f"{ROW_WIDTH}px"))
            )
        columns = 1 if self.m <= ONE_COLUMN else 2
        per_column = -(-self.m // columns)
        # column by column: the most important directions read down the first column
        self.rows_box = W.GridBox(
            list(self.rows),
            layout=W.Layout(
                grid_template_columns=f"repeat({columns}, {ROW_WIDTH}px)",
                grid_template_rows=f"repeat({per_column}, auto)",
                grid_auto_flow="column",
                grid_gap="0 12px",
            ),
        )
        self.rows_box.add_class("liaviz-direction-rows")

    def _build(self, ranges, steps, folder: str) -> None:
        W = widgets
        S = self.display_size
        self._build_rows(ranges, steps)

        self.source_image = image_widget(self.source, S)
        self.source_image.add_class("liaviz-explorer-source")
        self.image = image_widget(None, S)
        self.image.add_class("liaviz-explorer-image")
        self.image_caption = caption("edit (all 0 = reconstruction)", S)
        self.diff_toggle = W.ToggleButton(
            value=False,
            description="difference map",
            tooltip="show |edit - reconstruction| (x4) instead of the edit",
            layout=W.Layout(width="140px"),
        )
        self.diff_toggle.observe(lambda _: self.guarded(self._on_diff), names="value")
        pasted = self.placed is not None and not self.placed.whole
        self.photo_toggle = W.ToggleButton(
            value=False,
            description="in the photo",
            tooltip="show the edit pasted back into the whole photo"
            if pasted
            else "the source was used whole: there is no larger photo to paste into",
            disabled=not pasted,
            layout=W.Layout(width="140px"),
        )
        self.photo_toggle.observe(lambda _: self.guarded(self._on_diff), names="value")
        self.status = W.HTML(layout=W.Layout(width=f"{2 * S + 8}px", height="20px"))
        self.status.add_class("liaviz-explorer-status")
        self.output = W.Output(
            layout=W.Layout(max_height="120px", overflow="auto", border="1px solid #ddd")
        )

        self.reset_all_button = W.Button(description="Reset all", tooltip="every slider to 0")
        self.reset_all_button.on_click(lambda _: self.guarded(self.reset))
        self.randomize_button = W.Button(
            description="Randomize", tooltip="random edit: N(0, (range/3)^2) per direction"
        )
        self.randomize_button.on_click(lambda _: self.guarded(self.randomize))
        self.order_dropdown = W.Dropdown(
            options=[("by importance", "importance"), ("d1..dM", "index")],
            value="importance",
            description="order",
            style={"description_width": "40px"},
            layout=W.Layout(width="180px"),
        )
        self.order_dropdown.observe(lambda ch: self.guarded(self._on_order, ch), names="value")
        self.info = W.HTML(layout=W.Layout(width="300px"))
        side = W.VBox(
            [
                self.diff_toggle,
                self.photo_toggle,
                W.HBox([self.reset_all_button, self.randomize_button]),
                self.order_dropdown,
                self.info,
            ],
            layout=W.Layout(margin="0 0 0 12px"),
        )
        images = W.HBox(
            [
                W.VBox([self.source_image, caption("source", S)]),
                W.VBox([self.image, self.image_caption]),
                side,
            ]
        )
        parts = [images, self.status, self.rows_box]
        if self.driving_frames is not None:
            parts.append(self._build_driving())
        parts += [p for p in [anatomy_panel(self.anatomy)] if p is not None]
        parts += [self._build_files(folder), self.output]
        self.widget = W.VBox(parts)
        self.widget.add_class("liaviz-explorer")

    def _build_driving(self) -> widgets.Widget:
        W = widgets
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
        self.mixer = MixerPanel(self.names, self.anatomy, self.guarded)
        self.animation_box = W.Box()
        controls = W.VBox(
            [
                W.HBox([self.frame_slider, self.take_motion_button]),
                W.HBox([self.mode, self.animate_button, self.progress]),
                self.mixer.widget,
            ]
        )
        return W.VBox([W.HBox([self.frame_image, controls]), self.animation_box])

    def _build_files(self, folder: str) -> widgets.Widget:
        W = widgets
        self.folder_box = W.Text(value=folder, description="folder", layout=W.Layout(width="300px"))
        self.folder_box.observe(lambda _: self.guarded(self.refresh_presets), names="value")
        self.file_name_box = W.Text(
            value="edit", description="name", layout=W.Layout(width="180px")
        )
        self.save_preset_button = W.Button(description="Save preset")
        self.save_preset_button.on_click(lambda _: self.guarded(self.save_preset))
        self.preset_list = W.Dropdown(
            options=[], description="presets", layout=W.Layout(width="240px")
        )
        self.load_preset_button = W.Button(description="Load preset")
        self.load_preset_button.on_click(lambda _: self.guarded(self.load_preset))
        self.export_size = W.Dropdown(
            options=[(f"display ({self.display_size} px)", 0), ("model size", 1)]
            + [(f"model x{k}", k) for k in (2, 4, 8)],
            value=0,
            description="size",
            style={"description_width": "32px"},
            layout=W.Layout(width="180px"),
        )
        self.export_png_button = W.Button(description="Export PNG")
        self.export_png_button.on_click(lambda _: self.guarded(self.export_png))
        self.sweep_direction = W.Dropdown(
            options=self._direction_options(), layout=W.Layout(width="130px")
        )
        self.sweep_format = W.Dropdown(options=["gif", "mp4"], layout=W.Layout(width="70px"))
        self.export_sweep_button = W.Button(description="Export sweep")
        self.export_sweep_button.on_click(
            lambda _: self.guarded(self.export_sweep, self.sweep_direction.value + 1)
        )
        self.export_box = W.VBox()  # the last export: its absolute path and a preview
        return W.VBox(
            [
                W.HBox([self.folder_box, self.file_name_box, self.save_preset_button]),
                W.HBox([self.preset_list, self.load_preset_button]),
                W.HBox(
                    [
                        self.export_size,
                        self.export_png_button,
                        self.sweep_direction,
                        self.sweep_format,
                        self.export_sweep_button,
                    ]
                ),
                self.export_box,
            ]
        )
