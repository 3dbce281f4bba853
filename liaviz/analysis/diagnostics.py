"""Direction diagnostics and figures beside the anatomy (``liaviz.analysis.anatomy``), headless.

- ``orthonormality_error``: max |Q^T Q - I| of the motion dictionary's directions (Sec. 3.3 keeps
  them orthonormal by a QR every forward, so this is float32 round-off, ~1e-6, for a sound model).
- a direction's usage is the variance of its magnitude over given clips:
  ``liaviz.analysis.magnitudes.direction_variance``.
- ``magnitudes_figure``: the magnitudes over time, one panel per clip.
- ``anatomy_figure``: one row per direction: its flow change, where the local motion sits, label.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..nn import LIA
from .anatomy import COMPONENTS, SHORT_NAMES, Anatomy, direction_names
from .flows import color_wheel, flow_changes_to_color
from .magnitudes import MagnitudeSet, order_by_variance


def orthonormality_error(model: LIA) -> float:
    """max |Q^T Q - I| over the M x M entries, Q the (D, M) directions, in float64."""
    with torch.inference_mode():
        q = model.directions().double().cpu()
    return float((q.t() @ q - torch.eye(q.shape[1], dtype=q.dtype)).abs().max())


def magnitudes_figure(
    mags: MagnitudeSet, names: Sequence[str] | None = None, top: int | None = None
) -> Figure:
    """Magnitudes a_i over time, one panel per clip; the ``top`` most-used directions (all by
    default) are drawn in colour and named in the legend, the others in grey."""
    m = mags.alpha.shape[1]
    names = list(names) if names is not None else [f"d{i + 1}" for i in range(m)]
    order = order_by_variance(mags)
    shown = set(order[: top if top is not None else m].tolist())
    n = len(mags.names)
    fig = Figure(figsize=(9.0, 2.4 * n + 0.6))
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    cmap = matplotlib.colormaps["tab20"]
    for v, ax in enumerate(axes):
        sel = mags.video == v
        t = mags.frame[sel]
        for i in order[::-1]:  # the most used last, on top
            if i in shown:
                ax.plot(t, mags.alpha[sel, i], color=cmap(i % 20), lw=1.2, label=names[i])
            else:
                ax.plot(t, mags.alpha[sel, i], color="#bbbbbb", lw=0.6)
        ax.set_title(mags.names[v], fontsize=9)
        ax.set_ylabel("magnitude a_i", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("frame", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(
            handles[::-1], labels[::-1], loc="center right", fontsize=7, frameon=False, ncol=1
        )
    fig.suptitle("motion magnitudes over time (legend: most used first)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    return fig


def anatomy_figure(anatomy: Anatomy, usage: Sequence[float] | None = None) -> Figure:
    """One row per direction: its mean flow change on the first source (colour wheel, all rows
    on one scale), the local motion's heat map with its region box, and the label with the
    shares. Needs an ``Anatomy`` fresh from ``analyze_directions`` (a loaded one has no maps)."""
    rows = anatomy.directions
    if any(d.flow is None or d.heat is None for d in rows):
        raise ValueError("the figure needs flows and heat maps: use analyze_directions' result")
    r = rows[0].flow.shape[0]
    colored = flow_changes_to_color([d.flow for d in rows])
    fig = Figure(figsize=(7.2, 0.95 * len(rows) + 0.9))
    axes = fig.subplots(len(rows), 3, squeeze=False, gridspec_kw={"width_ratios": [1, 1, 4.2]})
    for row, d, name, flow in zip(axes, rows, direction_names(anatomy), colored, strict=True):
        flow_ax, heat_ax, text_ax = row
        flow_ax.imshow(flow, interpolation="nearest")
        heat_ax.imshow(d.heat, cmap="magma", interpolation="nearest")
        x0, y0, x1, y1 = (v * r - 0.5 for v in d.region)
        heat_ax.add_patch(
            Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#40e0d0", lw=1.0)
        )
        shares = "  ".join(f"{SHORT_NAMES[k]} {d.shares[k]:.2f}" for k in COMPONENTS)
        extra = f"   usage {usage[d.index - 1]:.3g}" if usage is not None else ""
        text_ax.text(
            0.0,
            0.5,
            f"{name}\n{shares}  local {d.local:.2f}\n{d.rms_px:.2f} px per unit{extra}",
            fontsize=7.5,
            va="center",
            family="monospace",
        )
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
        text_ax.axis("off")
    axes[0, 0].set_title("flow change", fontsize=8)
    axes[0, 1].set_title("local motion", fontsize=8)
    axes[0, 2].set_title(
        f"label and shares of the flow energy ({anatomy.n_images} source(s), step {anatomy.step:g})",
        fontsize=8,
        loc="left",
    )
    fig.tight_layout(rect=(0, 0.01, 1, 1))
    wheel = fig.add_axes((0.93, 0.005, 0.06, 0.06 * 7.2 / fig.get_figheight()))
    wheel.imshow(color_wheel(48))
    wheel.axis("off")
    return fig


__all__ = ["anatomy_figure", "magnitudes_figure", "orthonormality_error"]
