"""``ReferenceView``: the source beside its reference image x_r (the paper's Fig. 5) and the flow
field and mask the decoder uses at each scale."""

from __future__ import annotations

import ipywidgets as widgets

from ..analysis.display import png
from ..analysis.figures import reference_figure
from ..analysis.flows import color_wheel, reference_arrays
from ..nn import LIA
from ..precision import Precision, resolve_precision
from ..runtime import model_device
from ._common import LogBox, View, image_widget, labelled

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
        self.display_size = display_size
        self.tile_size = tile_size
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
        flows = W.HBox(
            [
                W.VBox([f, m, lab], layout=W.Layout(align_items="center", margin="0 4px"))
                for f, m, lab in zip(
                    self.flow_images, self.mask_images, self.flow_labels, strict=True
                )
            ]
        )
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
            self.flow_labels[k].value = (
                f"<div style='font-size:11px;text-align:center'>{r}×{r}<br>"
                f"max shift {a.max_displacement[code][k]:.2f}</div>"
            )

    def figure(self):
        """The static matplotlib version of this view."""
        return reference_figure(self.arrays, self.code.value)


__all__ = ["ReferenceView"]
