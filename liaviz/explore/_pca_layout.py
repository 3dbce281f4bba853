"""The widgets of ``MagnitudePCA`` and where they sit: built and placed here, wired in
``MagnitudePCA._wire``. Also the PC edit drawn as bars in the d_i basis."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np

from ._common import LogBox, image_widget, labelled
from ._explorer_layout import message_place


class PCAWidgets:
    """Every widget of the PCA view as an attribute, and ``widget``, the whole view.
    ``explained`` (K,): each component's share of the variance, for the slider labels."""

    def __init__(
        self,
        explained: np.ndarray,
        dims: int,
        color: str,
        display_size: int,
        n_sliders: int,
        with_source: bool,
        with_explorer: bool,
    ) -> None:
        W = widgets
        self.status = W.HTML()
        self.log_box = LogBox(80)
        self.dims_toggle = W.ToggleButtons(
            options=["2D", "3D"] if len(explained) >= 3 else ["2D"], value=f"{dims}D",
            description="plot",
        )  # fmt: skip
        self.dims_toggle.style.button_width = "48px"
        self.dims_toggle.style.description_width = "initial"
        self.color_toggle = W.ToggleButtons(
            options=["video", "time"], value=color, description="colour by"
        )
        self.color_toggle.style.button_width = "64px"
        self.color_toggle.style.description_width = "initial"
        self.figure_box = W.Box(layout=W.Layout(min_height="470px"))
        self.point_info = W.HTML(
            "<i>click a point to see its frame</i>", layout=W.Layout(height="40px")
        )
        self.frame_image = image_widget(None, display_size)
        self.recon_image = image_widget(None, display_size)
        views = [
            labelled(self.frame_image, "driving frame"),
            labelled(self.recon_image, "its reconstruction"),
        ]
        self.transfer_image = image_widget(None, display_size) if with_source else None
        if with_source:
            views.append(labelled(self.transfer_image, "source with its motion"))
        parts = [
            W.HBox([self.dims_toggle, self.color_toggle]),
            self.figure_box,
            W.VBox([self.point_info, W.HBox(views)]),
        ]
        self.pc_sliders: list[widgets.FloatSlider] = []
        self.send_button = None
        if with_source and n_sliders > 0:
            parts.append(self._build_pcs(explained[:n_sliders], display_size, with_explorer))
        self.widget = W.VBox([*parts, self.status, self.log_box.widget])
        self.widget.add_class("liaviz-magnitude-pca")

    def _build_pcs(self, explained, display_size: int, with_explorer: bool) -> widgets.Widget:
        W = widgets
        for j, share in enumerate(explained):
            self.pc_sliders.append(
                W.FloatSlider(
                    value=0.0,
                    min=-3.0,
                    max=3.0,
                    step=0.05,
                    description=f"PC{j + 1} ({100 * share:.0f}%)",
                    style={"description_width": "90px"},
                    layout=W.Layout(width="380px"),
                    readout_format=".2f",
                )  # fmt: skip
            )
        self.pc_image = image_widget(None, display_size + 32)
        self.mapping = W.HTML()
        self.mapping.add_class("liaviz-pca-bars")
        self.reset_button = W.Button(description="Reset PCs")
        row = [self.reset_button]
        if with_explorer:
            self.send_button = W.Button(
                description="Send to explorer", tooltip="set the explorer's d_i sliders"
            )
            row.append(self.send_button)
        # the result of "Send to explorer", beside the button (the explorer may be far above)
        self.send_message = message_place("380px")
        self.send_message.add_class("liaviz-pca-send-message")
        title = W.HTML("<b>edit along principal components</b> (units: std)")
        sliders = W.VBox([title, *self.pc_sliders, W.HBox(row), self.send_message])
        return W.HBox([sliders, labelled(self.pc_image, "source + PC edit"), self.mapping])


def bars(e: np.ndarray, names: Sequence[str], order: Sequence[int]) -> str:
    """The edit per direction as horizontal bars, in the explorer's order, each row one line
    with its full name (the name column is as wide as the longest name: nothing cut or wrapped)."""
    scale = max(float(np.abs(e).max()), 1e-6)
    width = max(len(n) for n in names) + 1
    rows = []
    for i in order:
        v = float(e[i])
        w = int(round(40 * abs(v) / scale))
        left = 40 - w if v < 0 else 40
        color = "#4c72b0" if v >= 0 else "#dd8452"
        rows.append(
            "<div style='display:flex;align-items:center;height:16px;font-size:12px;"
            "white-space:nowrap'>"
            f"<span style='width:{width}ch;flex:none'>{html.escape(names[i])}</span>"
            "<span style='position:relative;width:80px;height:9px;background:#f2f2f2;flex:none'>"
            f"<span style='position:absolute;left:{left}px;width:{w}px;height:9px;"
            f"background:{color}'></span></span>"
            f"<span style='margin-left:4px'>{v:+.2f}</span></div>"
        )
    return (
        "<div><b style='font-size:12px'>in the d_i basis</b> "
        "<span style='font-size:11px;color:#777'>(the explorer's order)</span>"
        + "".join(rows)
        + "</div>"
    )
