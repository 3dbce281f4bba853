"""``MagnitudePCA``: PCA of the motion magnitudes A over the frames of driving videos.

The scatter (plotly, 2D or 3D) shows how videos move through motion space; clicking a point shows
that frame, the model's reconstruction of it, and the source given its motion. Sliders along the
principal components (GANSpace style, in standard deviations) edit the source; each is mapped
back to the d_i basis, e = sum_j c_j s_j v_j, and shown as per-direction bars.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from ..analysis import ENCODE_PRECISION, AnalysisError
from ..analysis.display import png
from ..analysis.edits import direction_labels, edit_image
from ..analysis.figures import pca_figure
from ..analysis.magnitudes import MagnitudeSet, video_magnitudes
from ..analysis.pca import PCAResult, fit_pca, pcs_to_directions
from ..analysis.pca_plots import marker_colors, pca_scatter, top_directions
from ..nn import LIA, SourceState
from ..runtime.device import Precision, model_device, resolve_precision
from ..runtime.source import encode_source
from ._common import View
from ._explorer_source import check_display_size
from ._pca_layout import PCAWidgets, bars
from ._render import LatestValueRenderer


class MagnitudePCA(View):
    """PCA of magnitudes of ``videos`` (a mapping name -> video, a sequence, one video, or a
    ``MagnitudeSet`` with its frames kept, e.g. the one the explorer is ordered by; a video is a
    path, uint8 (T, H, W, 3) frames or an iterable of frames).

    ``image``: a source for the PC sliders and for "source with this frame's motion".
    ``explorer``: a ``DirectionExplorer`` the PC edit can be sent to (its sliders are the d_i);
    the bars then use its names and its importance order.
    """

    # ---- state: all of it, declared here and set in __init__ -----------------------------------
    model: LIA
    mags: MagnitudeSet  # the frames' magnitudes (and frames)
    result: PCAResult
    state: SourceState | None  # the encoded source, when an image is given
    explorer: object | None  # a DirectionExplorer
    selected: int | None  # the clicked point (index into mags)
    ui: PCAWidgets
    _quiet: bool  # set_pcs is moving many sliders: one render at the end

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
        if dims not in (2, 3):
            raise AnalysisError(f"dims must be 2 or 3, got {dims!r}")
        if color not in ("video", "time"):
            raise AnalysisError(f"color must be 'video' or 'time', got {color!r}")
        self.model = model
        self.precision = resolve_precision(precision, model_device(model))
        self.display_size = check_display_size(display_size)
        self.explorer = explorer
        if isinstance(videos, MagnitudeSet) and videos.frames is not None:
            self.mags = videos  # measured once, for every view
        else:
            self.mags = video_magnitudes(
                model, videos, stride=stride, max_frames=max_frames, keep_frames=True
            )
        self.result = fit_pca(self.mags, n_components)
        if dims > self.result.n_components:
            raise AnalysisError(f"dims={dims} needs {dims} components, the PCA has fewer")
        self.state = (
            encode_source(model, image, precision=ENCODE_PRECISION) if image is not None else None
        )
        self.selected, self._quiet = None, False
        k = min(n_sliders, self.result.n_components)
        self.ui = PCAWidgets(
            self.result.explained, dims, color, self.display_size, k,
            self.state is not None, explorer is not None,
        )  # fmt: skip
        self.widget, self.status, self.log_box = self.ui.widget, self.ui.status, self.ui.log_box
        self.renderer = LatestValueRenderer(self._render_pcs, self.report_error, threaded)
        self._wire()
        self._new_figure()
        if self.ui.pc_sliders:
            self.renderer.submit(np.zeros(k))
            self.renderer.wait(60)
        self.guarded(self.show_point, 0)  # something to look at before the first click

    def _wire(self) -> None:
        ui = self.ui
        ui.dims_toggle.observe(lambda _: self.guarded(self._new_figure), names="value")
        ui.color_toggle.observe(lambda _: self.guarded(self._recolor), names="value")
        for slider in ui.pc_sliders:
            slider.observe(lambda _: self._request(), names="value")
        if ui.pc_sliders:
            ui.reset_button.on_click(
                lambda _: self.guarded(self.set_pcs, np.zeros(len(ui.pc_sliders)))
            )
        if ui.send_button is not None:
            ui.send_button.on_click(lambda _: self.act(ui.send_message, self.send_to_explorer))

    # widgets other code and tests reach for, read through
    figure_box = property(lambda self: self.ui.figure_box)
    dims_toggle = property(lambda self: self.ui.dims_toggle)
    color_toggle = property(lambda self: self.ui.color_toggle)
    pc_sliders = property(lambda self: self.ui.pc_sliders)
    pc_image = property(lambda self: self.ui.pc_image)
    mapping = property(lambda self: self.ui.mapping)
    point_info = property(lambda self: self.ui.point_info)
    frame_image = property(lambda self: self.ui.frame_image)
    recon_image = property(lambda self: self.ui.recon_image)
    transfer_image = property(lambda self: self.ui.transfer_image)
    send_button = property(lambda self: self.ui.send_button)

    # ---- scatter ------------------------------------------------------------------------------
    def _new_figure(self) -> None:
        self._n = n = 3 if self.dims_toggle.value == "3D" else 2
        static = pca_scatter(self.result, self.mags, n, self.color_toggle.value, self._names())
        # The traces go in as an addTraces message, not in the constructor: plotly's widget
        # syncs constructor data as a state update sent *after* the widget opens, and its views
        # read that data once, at render (they ignore later changes of it), so a view rendered
        # before the update lands would show axes without points (the likely cause of the
        # intermittent empty plot after Run All; not reproduced on demand). addTraces reaches
        # both the model's data (for views made later) and every view made already.
        self.figure = go.FigureWidget(layout=static.layout)
        self.figure.add_traces([*static.data, _highlight(n)])
        for trace in self.figure.data[:-1]:
            trace.on_click(self._on_click)
        self.figure_box.children = [self.figure]
        if self.selected is not None:
            self._highlight(self.selected)

    def _recolor(self) -> None:
        cols = marker_colors(self.mags, self.color_toggle.value)
        with self.figure.batch_update():
            for trace, marker in zip(self.figure.data[:-1], cols, strict=True):
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
        top = top_directions(self.mags.alpha, self._names())[index]
        self.point_info.value = (
            f"<b>{html.escape(name)}</b>, frame {self.mags.frame[index]}, time "
            f"{self.mags.time[index]:.2f} &nbsp; ({pcs})<br><small>top directions: "
            f"{html.escape(top)}</small>"
        )
        self._highlight(index)

    def _highlight(self, index: int) -> None:
        """Ring the shown point (the last trace of the figure)."""
        if not hasattr(self, "figure"):
            return
        xyz = {a: [float(self.result.scores[index, d])] for d, a in enumerate("xyz"[: self._n])}
        self.figure.data[-1].update(**xyz)

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
        self.mapping.value = bars(e, self._names(), self._order())

    def _names(self) -> list[str]:
        if self.explorer is not None:
            return list(self.explorer.names)
        return direction_labels(self.model.config.motion_dim)

    def _order(self) -> list[int]:
        """The explorer's order (its one ranking), else d1..dM."""
        if self.explorer is not None:
            return list(self.explorer.order)
        return list(range(self.model.config.motion_dim))

    def send_to_explorer(self) -> None:
        """Put the PC edit on the linked explorer's d_i sliders."""
        if self.explorer is None:
            raise AnalysisError("no explorer linked: pass explorer=... to MagnitudePCA")
        e = self.edit()
        self.explorer.set_values(e)
        top = sorted(range(len(e)), key=lambda i: -abs(e[i]))[:3]
        edit = ", ".join(f"{self.explorer.names[i]} {e[i]:+.2f}" for i in top)
        self.log(f"sent to the explorer above: {edit}")

    def static_figure(self, dims=(0, 1)):
        """The matplotlib version of the scatter, with the explained variance."""
        return pca_figure(self.result, self.mags, dims, self.color_toggle.value)


def _highlight(n_dims: int):
    """An empty trace that rings the clicked point (moved by ``MagnitudePCA._highlight``)."""
    ring = dict(
        size=16 if n_dims == 2 else 8, color="rgba(0,0,0,0)", line=dict(width=3, color="#d62728")
    )
    common = dict(name="selected", mode="markers", marker=ring, hoverinfo="skip", showlegend=False)
    if n_dims == 2:
        return go.Scatter(x=[], y=[], **common)
    return go.Scatter3d(x=[], y=[], z=[], **common)


__all__ = ["MagnitudePCA"]
