"""The widgets of ``DirectionExplorer`` and where they sit. ``ExplorerWidgets`` only builds and
places them: nothing here is wired (``DirectionExplorer._wire`` names every handler).

The layout never moves: the source beside the edit, every slider visible (two columns past
``ONE_COLUMN`` directions), and a reserved place, of fixed size, for each thing that comes later
(the animation player, the export preview, each control's message)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import traitlets

from ..analysis import ranges
from ._common import LogBox, image_widget
from ._keys import ShiftArrows
from .mixer_panel import MixerPanel

ONE_COLUMN = 10  # up to this many directions the sliders stand in one column
ROW_WIDTH = 404  # px: the name above; slider, typed value, reset and note below
PREVIEW_PX = 128  # the export preview's reserved square
LINE = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis"
PLACEHOLDER = "<div style='color:#999;font-size:12px;padding:8px'>{}</div>"


def caption(text: str, width: int) -> widgets.HTML:
    return widgets.HTML(
        f"<div style='text-align:center;font-size:12px;{LINE}'>{text}</div>",
        layout=widgets.Layout(width=f"{width}px"),
    )


def message_place(width: str = "100%") -> widgets.HTML:
    """A control's reserved message line (one line high, so a message moves nothing)."""
    return widgets.HTML(layout=widgets.Layout(width=width, height="22px"))


class DirectionSlider(widgets.FloatSlider):
    """A ``FloatSlider`` that grows its range to hold a value set beyond it (from code, a preset,
    "take motion" or the typed value box), where ipywidgets' own slider would clip it silently."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = float(proposal["value"])
        if not self.min <= value <= self.max:
            lo, hi = ranges.widened(self.min, self.max, value)
            if lo < self.min:
                self.min = lo
            if hi > self.max:
                self.max = hi
            self.step = min(self.step, key_step(self.min, self.max))
        return value

    def get_state(self, key=None, drop_defaults=False):
        """The synced state, the value last: the browser applies a message's changes in its
        order, and a value that arrived before its widened range would be clipped to the old
        range there and sent back over the new value."""
        state = super().get_state(key=key, drop_defaults=drop_defaults)
        if "value" in state:
            state["value"] = state.pop("value")
        return state


def key_step(lo: float, hi: float) -> float:
    """The slider step: an arrow key moves 1% of the range (Shift+arrow 10%, ``ShiftArrows``)."""
    return round((hi - lo) / 100, 12)


class ExplorerWidgets:
    """Every widget of the explorer as an attribute, and ``widget``, the whole view."""

    def __init__(
        self,
        names: Sequence[str],
        ranges: np.ndarray,
        display_size: int,
        folder: str,
        n_frames: int,
        pasted: bool,
        mixer: MixerPanel,
        anatomy_panel: widgets.Widget | None,
        gallery: Sequence[str],
    ) -> None:
        self.m = len(names)
        self.display_size = display_size
        self._build_rows(names, ranges)
        self.mixer = mixer
        self.anatomy_panel = anatomy_panel  # the anatomy figure, folded (None without maps)
        self.log_box = LogBox()
        self.keys = ShiftArrows()
        parts = [
            self._build_images(pasted),
            self.status,
            self.rows_box,
            self._build_driving(n_frames),
            *([anatomy_panel] if anatomy_panel is not None else []),
            self._build_files(folder),
            self._build_inputs(gallery),
            self.log_box.widget,
            self.keys,
        ]
        self.widget = widgets.VBox(parts)
        self.widget.add_class("liaviz-explorer")

    def _build_rows(self, names: Sequence[str], ranges: np.ndarray) -> None:
        W = widgets
        self.sliders, self.name_boxes, self.value_boxes = [], [], []
        self.reset_buttons, self.spread_labels, self.rows = [], [], []
        for i, (lo, hi) in enumerate(np.asarray(ranges, np.float64)):
            slider = DirectionSlider(
                value=0.0, min=float(lo), max=float(hi), step=key_step(lo, hi),
                continuous_update=True, readout=False, layout=W.Layout(width="220px"),
            )  # fmt: skip
            slider.add_class("liaviz-direction-slider")  # CSS hooks for styling and browser tests
            # the typed value: ipywidgets' own readout clips what is typed to the range
            value = W.FloatText(value=0.0, layout=W.Layout(width="72px"))
            value.add_class("liaviz-direction-value")
            name = W.Text(
                value=names[i], tooltip=f"name of direction d{i + 1} (type to rename)",
                layout=W.Layout(width=f"{ROW_WIDTH - 8}px"),
            )  # fmt: skip
            name.add_class("liaviz-direction-name")
            reset = W.Button(
                description="↺", tooltip=f"reset d{i + 1}", layout=W.Layout(width="32px")
            )
            spread = W.HTML(layout=W.Layout(width="64px"))
            self.sliders.append(slider)
            self.value_boxes.append(value)
            self.name_boxes.append(name)
            self.reset_buttons.append(reset)
            self.spread_labels.append(spread)
            row = W.VBox(
                [name, W.HBox([slider, value, reset, spread])],
                layout=W.Layout(width=f"{ROW_WIDTH}px", margin="0 0 4px 0"),
            )
            row.add_class("liaviz-direction-row")
            self.rows.append(row)
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

    def set_ranges(self, ranges: np.ndarray, step: float | None = None) -> None:
        """New slider ranges (a value outside one widens it: values never move), each with its
        step (1% of the range unless ``step`` is given)."""
        for s, (lo, hi) in zip(self.sliders, np.asarray(ranges, np.float64), strict=True):
            lo, hi = min(float(lo), s.value), max(float(hi), s.value)
            with s.hold_sync():  # one message: see DirectionExplorer._place
                if lo > s.max:  # min never passes max on the way
                    s.max, s.min = hi, lo
                else:
                    s.min, s.max = lo, hi
                s.step = step or key_step(lo, hi)

    def _build_images(self, pasted: bool) -> widgets.Widget:
        W = widgets
        S = self.display_size
        self.source_image = image_widget(None, S)
        self.source_image.add_class("liaviz-explorer-source")
        self.image = image_widget(None, S)
        self.image.add_class("liaviz-explorer-image")
        self.image_caption = caption("edit (all 0 = reconstruction)", S)
        self.diff_toggle = W.ToggleButton(
            value=False, description="difference map",
            tooltip="show |edit - reconstruction| (x4) instead of the edit",
            layout=W.Layout(width="140px"),
        )  # fmt: skip
        self.photo_toggle = W.ToggleButton(
            value=False, description="in the photo", layout=W.Layout(width="140px")
        )
        self.set_pasted(pasted)
        self.status = W.HTML(layout=W.Layout(width=f"{2 * S + 8}px", height="20px"))
        self.status.add_class("liaviz-explorer-status")
        self.reset_all_button = W.Button(description="Reset all", tooltip="every slider to 0")
        self.randomize_button = W.Button(
            description="Randomize", tooltip="random edit: N(0, (range/3)^2) per direction"
        )
        self.order_dropdown = W.Dropdown(
            options=[("by importance", "importance"), ("d1..dM", "index")],
            value="importance", description="order", style={"description_width": "40px"},
            layout=W.Layout(width="180px"),
        )  # fmt: skip
        self.info = W.HTML(layout=W.Layout(width="300px", height="120px"))
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
        return W.HBox(
            [
                W.VBox([self.source_image, caption("source", S)]),
                W.VBox([self.image, self.image_caption]),
                side,
            ]
        )

    def set_pasted(self, pasted: bool) -> None:
        """Enable "in the photo" when the source is a face cropped out of a larger photo."""
        self.photo_toggle.disabled = not pasted
        self.photo_toggle.tooltip = (
            "show the edit pasted back into the whole photo"
            if pasted
            else "the source was used whole: there is no larger photo to paste into"
        )
        if not pasted:
            self.photo_toggle.value = False

    def _build_driving(self, n_frames: int) -> widgets.Widget:
        W = widgets
        S = self.display_size
        self.frame_slider = W.IntSlider(
            value=0, min=0, max=max(n_frames - 1, 0), description="frame"
        )
        self.frame_image = image_widget(None, 96)
        self.take_motion_button = W.Button(
            description="Take motion from frame", layout=W.Layout(width="190px")
        )
        self.mode = W.Dropdown(options=["relative", "absolute"], layout=W.Layout(width="100px"))
        self.animate_button = W.Button(description="Animate edit", button_style="primary")
        self.progress = W.IntProgress(min=0, max=max(n_frames, 1), layout=W.Layout(width="200px"))
        self.animate_message = message_place(f"{2 * S}px")
        self.animate_message.add_class("liaviz-animate-message")
        # the player's place, reserved at its size: a new animation pushes nothing down
        self.animation_box = W.Box(
            [W.HTML(PLACEHOLDER.format("the animation plays here (Animate edit)"))],
            layout=W.Layout(width=f"{2 * S + 8}px", height=f"{S + 40}px", overflow="hidden"),
        )
        self.animation_box.add_class("liaviz-animation-box")
        controls = W.VBox(
            [
                W.HBox([self.frame_slider, self.take_motion_button]),
                W.HBox([self.mode, self.animate_button, self.progress]),
                self.animate_message,
                self.mixer.widget,
            ]
        )
        self.set_driving_enabled(n_frames > 0)
        return W.VBox([W.HBox([self.frame_image, controls]), self.animation_box])

    def set_driving_enabled(self, enabled: bool) -> None:
        for w in (self.frame_slider, self.take_motion_button, self.animate_button, self.mode):
            w.disabled = not enabled
        if not enabled:
            self.animate_message.value = PLACEHOLDER.format(
                "no driving clip: upload one below to take motion and animate"
            )

    def _build_files(self, folder: str) -> widgets.Widget:
        W = widgets
        self.folder_box = W.Text(value=folder, description="folder", layout=W.Layout(width="300px"))
        self.folder_box.add_class("liaviz-folder")
        self.file_name_box = W.Text(
            value="edit", description="name", layout=W.Layout(width="180px")
        )
        self.save_preset_button = W.Button(description="Save preset")
        self.preset_list = W.Dropdown(
            options=[], description="presets", layout=W.Layout(width="240px")
        )
        self.load_preset_button = W.Button(description="Load preset")
        self.export_names_button = W.Button(
            description="Export names", tooltip="the names as directions.json (folder/name)"
        )
        self.export_size = W.Dropdown(
            options=[(f"display ({self.display_size} px)", 0), ("model size", 1)]
            + [(f"model x{k}", k) for k in (2, 4, 8)],
            value=0, description="size", style={"description_width": "32px"},
            layout=W.Layout(width="180px"),
        )  # fmt: skip
        self.export_png_button = W.Button(description="Export PNG")
        self.sweep_direction = W.Dropdown(layout=W.Layout(width="220px"))
        self.sweep_direction.add_class("liaviz-sweep-direction")
        self.sweep_format = W.Dropdown(options=["gif", "mp4"], layout=W.Layout(width="70px"))
        self.export_sweep_button = W.Button(description="Export sweep")
        # each button's result or error, right under the buttons, and the last file written
        self.files_message = message_place("760px")
        self.files_message.add_class("liaviz-files-message")
        self.last_file = message_place("760px")
        self.last_file.add_class("liaviz-last-file")
        self.export_box = W.Box(
            [W.HTML(PLACEHOLDER.format("the last export's preview"))],
            layout=W.Layout(width=f"{PREVIEW_PX + 8}px", height=f"{PREVIEW_PX + 8}px"),
        )
        self.export_box.add_class("liaviz-export-preview")
        return W.VBox(
            [
                W.HBox([self.folder_box, self.file_name_box, self.save_preset_button]),
                W.HBox([self.preset_list, self.load_preset_button, self.export_names_button]),
                W.HBox(
                    [
                        self.export_size,
                        self.export_png_button,
                        self.sweep_direction,
                        self.sweep_format,
                        self.export_sweep_button,
                    ]
                ),
                self.files_message,
                W.HBox([self.export_box, self.last_file]),
            ]
        )

    def _build_inputs(self, gallery: Sequence[str]) -> widgets.Widget:
        W = widgets
        self.portrait_upload = W.FileUpload(
            accept="image/*", multiple=False, description="Portrait…",
            layout=W.Layout(width="160px"),
        )  # fmt: skip
        self.portrait_upload.add_class("liaviz-upload-portrait")
        self.driving_upload = W.FileUpload(
            accept="video/*,.mp4,.gif,.mov,.webm", multiple=False, description="Driving clip…",
            layout=W.Layout(width="160px"),
        )  # fmt: skip
        self.driving_upload.add_class("liaviz-upload-driving")
        self.gallery_buttons = [
            W.Button(description=name, tooltip=f"explore {name} with its saved slider settings")
            for name in gallery
        ]
        self.inputs_message = message_place("760px")
        self.inputs_message.add_class("liaviz-inputs-message")
        title = W.HTML(
            "<b style='font-size:13px'>Your own files, or an example</b> "
            "<span style='font-size:12px;color:#666'>(no code needed)</span>"
        )
        return W.VBox(
            [
                title,
                W.HBox([self.portrait_upload, self.driving_upload, *self.gallery_buttons]),
                self.inputs_message,
            ]
        )


def export_preview(path, data: bytes) -> widgets.Widget:
    """The preview shown in the reserved export place (fits its square)."""
    suffix = str(path).rsplit(".", 1)[-1].lower()
    if suffix in ("png", "gif"):
        w = widgets.Image(value=data, format=suffix)
    elif suffix == "mp4":
        w = widgets.Video(value=data, format="mp4", autoplay=True, loop=True)
    else:
        return widgets.HTML(PLACEHOLDER.format(html.escape(f"{suffix} file (no preview)")))
    w.layout = widgets.Layout(max_width=f"{PREVIEW_PX}px", max_height=f"{PREVIEW_PX}px")
    return w
