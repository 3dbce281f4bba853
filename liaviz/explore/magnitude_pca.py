"""``MagnitudePCA``: PCA of the motion magnitudes A over the frames of driving videos.

The scatter (plotly, 2D or 3D) shows how videos move through motion space; clicking a point shows
that frame, the model's reconstruction of it, and the source given its motion. Sliders along the
principal components (GANSpace style, in standard deviations) edit the source; each is mapped
back to the d_i basis, e = sum_j c_j s_j v_j, and shown as per-direction bars.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..analysis import ENCODE_PRECISION, AnalysisError
from ..analysis.display import png
from ..analysis.edits import direction_names, edit_image
from ..analysis.figures import pca_figure
from ..analysis.magnitudes import video_magnitudes
from ..analysis.pca import fit_pca, pcs_to_directions
from ..analysis.pca_plots import marker_colors, pca_scatter
from ..nn import LIA
from ..precision import Precision, resolve_precision
from ..runtime import encode_source, model_device
from ._common import LogBox, View, image_widget, labelled
from ._render import LatestValueRenderer


class MagnitudePCA(View):
    """PCA of magnitudes of ``videos`` (a mapping name -> video, a sequence, or one video; a
    video is a path, uint8 (T, H, W, 3) frames or an iterable of frames).

    ``image``: a source for the PC sliders and for "source with this frame's motion".
    ``explorer``: a ``DirectionExplorer`` the PC edit can be sent to (its sliders are the d_i).
    """

    def __init__(
        self,
        model: LIA,
        videos,
        image=None,
        *,
        n_components: int | None = None,
        n_sliders: int = 5,
        dims: int = 2,
        color: str = "video",
        stride: int = 1,
        max_frames: int | None = 300,
        explorer=None,
        display_size: int = 160,
        precision: Precision = "auto",
        threaded: bool = True,
    ) -> None:
        self.model = model
        self.precision = resolve_precision(precision, model_device(model))
        self.display_size = display_size
        self.explorer = explorer
        self.mags = video_magnitudes(
            model, videos, stride=stride, max_frames=max_frames, keep_frames=True
        )
        self.result = fit_pca(self.mags, n_components)
        self.state = (
            encode_source(model, image, precision=ENCODE_PRECISION) if image is not None else None
        )
        self.selected: int | None = None
        self._quiet = False
        W = widgets
        self.status = W.HTML()
        self.log_box = LogBox()
        self.dims_toggle = W.ToggleButtons(
            options=["2D", "3D"], value=f"{dims}D", description="plot"
        )
        self.dims_toggle.style.button_width = "48px"
        self.dims_toggle.style.description_width = "initial"
        if self.result.n_components < 3:
            self.dims_toggle.options = ["2D"]
        self.color_toggle = W.ToggleButtons(
            options=["video", "time"], value=color, description="colour by"
        )
        self.color_toggle.style.button_width = "64px"
        self.color_toggle.style.description_width = "initial"
        self.dims_toggle.observe(lambda _: self.guarded(self._new_figure), names="value")
        self.color_toggle.observe(lambda _: self.guarded(self._recolor), names="value")
        self.figure_box = W.Box()
        self._new_figure()

        self.point_info = W.HTML("<i>click a point to see its frame</i>")
        self.frame_image = image_widget(None, display_size)
        self.recon_image = image_widget(None, display_size)
        point_views = [
            labelled(self.frame_image, "driving frame"),
            labelled(self.recon_image, "its reconstruction"),
        ]
        if self.state is not None:
            self.transfer_image = image_widget(None, display_size)
            point_views.append(labelled(self.transfer_image, "source with its motion"))
        point_panel = W.VBox([self.point_info, W.HBox(point_views)])

        parts = [W.HBox([self.dims_toggle, self.color_toggle]), self.figure_box, point_panel]
        k = min(n_sliders, self.result.n_components)
        self.pc_sliders = []
        if self.state is not None and k > 0:
            for j in range(k):
                s = W.FloatSlider(
                    value=0.0,
                    min=-3.0,
                    max=3.0,
                    step=0.05,
                    description=f"PC{j + 1} ({100 * self.result.explained[j]:.0f}%)",
                    style={"description_width": "90px"},
                    layout=W.Layout(width="380px"),
                    readout_format=".2f",
                )
                s.observe(lambda _: self._request(), names="value")
                self.pc_sliders.append(s)
            self.pc_image = image_widget(None, display_size + 32)
            self.mapping = W.HTML()
            reset = W.Button(description="Reset PCs")
            reset.on_click(lambda _: self.guarded(self.set_pcs, np.zeros(k)))
            row = [reset]
            if explorer is not None:
                self.send_button = W.Button(
                    description="Send to explorer", tooltip="set the d_i sliders"
                )
                self.send_button.on_click(lambda _: self.guarded(self.send_to_explorer))
                row.append(self.send_button)
            parts.append(
                W.HBox(
                    [
                        W.VBox(
                            [W.HTML("<b>edit along principal components</b> (units: std)")]
                            + self.pc_sliders
                            + [W.HBox(row)]
                        ),
                        labelled(self.pc_image, "source + PC edit"),
                        self.mapping,
                    ]
                )
            )
            self.renderer = LatestValueRenderer(self._render_pcs, self.report_error, threaded)
            self.renderer.submit(np.zeros(k))
            self.renderer.wait(60)
        parts += [self.status, self.log_box.widget]
        self.widget = W.VBox(parts)
        self.guarded(self.show_point, 0)  # something to look at before the first click
        self.widget.add_class("liaviz-magnitude-pca")

    # ---- scatter ------------------------------------------------------------------------------
    def _new_figure(self) -> None:
        n = 3 if self.dims_toggle.value == "3D" else 2
        static = pca_scatter(self.result, self.mags, n, self.color_toggle.value)
        # The traces go in as an addTraces message, not in the constructor: plotly's widget
        # syncs constructor data as a state update sent *after* the widget opens, and its views
        # read that data once, at render (they ignore later changes of it), so a view rendered
        # before the update lands would show axes without points (the likely cause of the
        # intermittent empty plot after Run All; not reproduced on demand). addTraces reaches
        # both the model's data (for views made later) and every view made already.
        self.figure = go.FigureWidget(layout=static.layout)
        self.figure.add_traces(list(static.data))
        for trace in self.figure.data:
            trace.on_click(self._on_click)
        self.figure_box.children = [self.figure]

    def _recolor(self) -> None:
        cols = marker_colors(self.mags, self.color_toggle.value)
        with self.figure.batch_update():
            for trace, marker in zip(self.figure.data, cols, strict=True):
                trace.marker.update(**marker)

    def _on_click(self, trace, points, selector) -> None:
        if points.point_inds:
            v = self.mags.names.index(trace.name)
            index = int(np.flatnonzero(self.mags.video == v)[points.point_inds[0]])
            self.guarded(self.show_point, index)

    def show_point(self, index: int) -> None:
        """Show frame ``index`` (into the magnitude set), its reconstruction and, with a source,
        the source given that frame's motion (eq. 11)."""
        if not 0 <= index < len(self.mags):
            raise AnalysisError(f"point {index} out of range (0..{len(self.mags) - 1})")
        frame = self.mags.frames[index]
        self.selected = index
        self.frame_image.value = png(frame, self.display_size)
        recon = edit_image(self.model, frame, np.zeros(self.model.config.motion_dim))
        self.recon_image.value = png(recon, self.display_size)
        if self.state is not None:
            e = self.mags.alpha[index] - self.state.alpha[0].float().cpu().numpy()
            img = edit_image(self.model, self.state, e, self.precision)
            self.transfer_image.value = png(img, self.display_size)
        name = self.mags.names[self.mags.video[index]]
        pcs = ", ".join(f"PC{j + 1} {c:+.2f}" for j, c in enumerate(self.result.scores[index, :3]))
        self.point_info.value = (
            f"<b>{html.escape(name)}</b>, frame {self.mags.frame[index]} &nbsp; ({pcs})"
        )

    # ---- PC sliders ---------------------------------------------------------------------------
    def pcs(self) -> np.ndarray:
        return np.array([s.value for s in self.pc_sliders], dtype=np.float32)

    def set_pcs(self, values) -> None:
        self._quiet = True  # one render for the whole change, not one per slider
        try:
            for s, v in zip(self.pc_sliders, np.asarray(values, float), strict=True):
                s.value = float(v)
        finally:
            self._quiet = False
        self._request()

    def edit(self) -> np.ndarray:
        """The PC sliders as an edit in the d_i basis (M,)."""
        return pcs_to_directions(self.result, self.pcs())

    def _request(self) -> None:
        if not self._quiet:
            self.renderer.submit(self.pcs())

    def _render_pcs(self, pcs: np.ndarray) -> None:
        e = pcs_to_directions(self.result, pcs)
        img = edit_image(self.model, self.state, e, self.precision)
        self.pc_image.value = png(img, self.display_size + 32)
        self.mapping.value = _bars(e, self._names())

    def _names(self) -> list[str]:
        if self.explorer is not None:
            return list(self.explorer.names)
        return direction_names(self.model.config.motion_dim)

    def send_to_explorer(self) -> None:
        """Put the PC edit on the linked explorer's d_i sliders."""
        if self.explorer is None:
            raise AnalysisError("no explorer linked: pass explorer=... to MagnitudePCA")
        self.explorer.set_values(self.edit())

    def static_figure(self, dims=(0, 1)):
        """The matplotlib version of the scatter, with the explained variance."""
        return pca_figure(self.result, self.mags, dims, self.color_toggle.value)


def _bars(e: np.ndarray, names: list[str]) -> str:
    """The edit per direction as small horizontal bars (the PC edit in the d_i basis)."""
    scale = max(float(np.abs(e).max()), 1e-6)
    rows = []
    for name, v in zip(names, e, strict=True):
        w = int(round(40 * abs(v) / scale))
        left = 40 - w if v < 0 else 40
        color = "#4c72b0" if v >= 0 else "#dd8452"
        rows.append(
            "<div style='display:flex;align-items:center;height:13px;font-size:10px'>"
            f"<span style='width:56px;overflow:hidden'>{html.escape(name)}</span>"
            "<span style='position:relative;width:80px;height:9px;background:#f2f2f2'>"
            f"<span style='position:absolute;left:{left}px;width:{w}px;height:9px;"
            f"background:{color}'></span></span>"
            f"<span style='margin-left:4px'>{v:+.2f}</span></div>"
        )
    return "<div><b style='font-size:11px'>in the d_i basis</b>" + "".join(rows) + "</div>"


__all__ = ["MagnitudePCA"]
