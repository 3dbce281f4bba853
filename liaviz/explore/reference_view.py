"""``ReferenceView``: the source beside its reference image x_r (the paper's Fig. 5) and the flow
field and mask the decoder uses at each scale."""

from __future__ import annotations

import ipywidgets as widgets

from ..analysis.display import png
from ..analysis.figures import reference_figure
from ..analysis.flows import color_wheel, reference_arrays
from ..nn import LIA
from ..runtime.device import Precision, model_device, resolve_precision
from ._common import LogBox, View, image_widget, labelled
from ._explorer_source import check_display_size

CODES = [("reference  z_s→r", "reference"), ("reconstruction  z_s→s", "reconstruction")]


class ReferenceView(View):
    """Source x_s, reference x_r = G(z_{s->r}) and reconstruction G(z_{s->s}); below, for the
    chosen code, each decoder level's flow (colour wheel: hue = direction, saturation = length)
    and mask (white = warped source features, black = generated)."""

    def __init__(
        self,
        model: LIA,
        image,
        display_size: int = 192,
        tile_size: int = 112,
        precision: Precision = "auto",
    ) -> None:
        self.model = model
        self.precision = resolve_precision(precision, model_device(model))
        self.display_size = check_display_size(display_size)
        self.tile_size = check_display_size(tile_size)
        W = widgets
        self.source_image = image_widget(None, display_size)
        self.reference_image = image_widget(None, display_size)
        self.reconstruction_image = image_widget(None, display_size)
        levels = model.config.resolutions
        self.flow_images = [image_widget(None, tile_size) for _ in levels]
        self.mask_images = [image_widget(None, tile_size) for _ in levels]
        self.flow_labels = [W.HTML() for _ in levels]
        self.code = W.ToggleButtons(options=CODES, value="reference", description="flows of")
        self.code.style.button_width = "180px"
        self.code.observe(lambda _: self.guarded(self._show_flows), names="value")
        self.status = W.HTML()
        self.log_box = LogBox()
        wheel = image_widget(color_wheel(96), 96)
        top = W.HBox(
            [
                labelled(self.source_image, "source x_s"),
                labelled(self.reference_image, "reference x_r = G(z_s→r)"),
                labelled(self.reconstruction_image, "reconstruction G(z_s→s)"),
                labelled(wheel, "flow colours"),
            ]
        )
        columns = [
            W.VBox([f, m, lab], layout=W.Layout(align_items="center", margin="0 4px"))
            for f, m, lab in zip(self.flow_images, self.mask_images, self.flow_labels, strict=True)
        ]
        flows = W.HBox([_row_labels(tile_size), *columns, _mask_scale(tile_size)])
        self.widget = W.VBox([top, self.code, flows, self.status, self.log_box.widget])
        self.widget.add_class("liaviz-reference-view")
        self.set_image(image)

    def set_image(self, image) -> None:
        """Show another source."""
        self.arrays = reference_arrays(self.model, image, self.precision)
        a = self.arrays
        self.source_image.value = png(a.source, self.display_size)
        self.reference_image.value = png(a.reference, self.display_size)
        self.reconstruction_image.value = png(a.reconstruction, self.display_size)
        self._show_flows()

    def _show_flows(self) -> None:
        a, code = self.arrays, self.code.value
        for k, r in enumerate(a.resolutions):
            self.flow_images[k].value = png(a.flows[code][k], self.tile_size)
            self.mask_images[k].value = png(a.masks[code][k], self.tile_size)
            # the displacement is in half-widths of the image: half of r pixels at this level
            px = a.max_displacement[code][k] * r / 2
            self.flow_labels[k].value = (
                f"<div style='font-size:12px;text-align:center'>level {r}×{r}<br>"
                f"max shift {px:.1f} px (of {r})</div>"
            )

    def figure(self):
        """The static matplotlib version of this view."""
        return reference_figure(self.arrays, self.code.value)


def _row_labels(tile_size: int) -> widgets.VBox:
    """What each row of tiles is (beside the first column)."""
    style = (
        f"height:{tile_size}px;display:flex;align-items:center;font-size:12px;"
        "font-weight:bold;text-align:right"
    )
    rows = [("flow", "colour wheel"), ("mask", "see the scale")]
    return widgets.VBox(
        [
            widgets.HTML(f"<div style='{style}'>{name}<br><small>({note})</small></div>")
            for name, note in rows
        ],
        layout=widgets.Layout(width="88px"),
    )


def _mask_scale(tile_size: int) -> widgets.HTML:
    """The masks' colour scale: white 1 = warped source features, black 0 = generated."""
    return widgets.HTML(
        f"<div style='margin-top:{tile_size + 4}px;display:flex;font-size:11px;height:{tile_size}px'>"
        "<div style='width:14px;border:1px solid #999;background:linear-gradient(#fff,#000)'></div>"
        "<div style='display:flex;flex-direction:column;justify-content:space-between;"
        "margin-left:4px'><span>1: warped source</span><span>0.5</span>"
        "<span>0: generated</span></div></div>"
    )


__all__ = ["ReferenceView"]
