"""Plotly figures of the magnitude PCA: interactive in notebooks (``MagnitudePCA`` wraps them in a
``FigureWidget``) and as offline HTML for ``liaviz demo``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import plotly.graph_objects as go

from ..io.atomic import write_text
from . import AnalysisError
from .magnitudes import MagnitudeSet
from .pca import PCAResult

# matplotlib's tab10, so the static and interactive plots colour videos alike
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
Color = Literal["video", "time"]


def _dims(result: PCAResult, n: int) -> tuple[int, ...]:
    if result.n_components < n:
        raise AnalysisError(f"a {n}D plot needs {n} principal components, the PCA has fewer")
    return tuple(range(n))


def axis_title(result: PCAResult, k: int) -> str:
    return f"PC{k + 1} ({100 * result.explained[k]:.1f}%)"


def marker_colors(mags: MagnitudeSet, color: Color) -> list[dict]:
    """Per-trace marker settings for colouring by video (one colour each) or by time."""
    time = mags.time
    out = []
    for v in range(len(mags.names)):
        if color == "time":
            out.append(
                dict(
                    color=time[mags.video == v],
                    colorscale="Viridis",
                    cmin=0.0,
                    cmax=1.0,
                    showscale=v == 0,
                    colorbar=dict(title="time", len=0.6),
                )
            )
        elif color == "video":
            out.append(dict(color=PALETTE[v % len(PALETTE)], showscale=False))
        else:
            raise AnalysisError(f"color must be 'video' or 'time', got {color!r}")
    return out


SYMBOLS = ("circle", "square", "diamond", "cross", "x")  # one per clip: kept when coloured by time


def top_directions(alpha: np.ndarray, names: Sequence[str], k: int = 3) -> list[str]:
    """Each frame's ``k`` most unusual directions, for hover text: "d7 +1.8σ, d2 −1.1σ" (its
    magnitudes in standard deviations from the mean over all frames)."""
    a = np.asarray(alpha, np.float64)
    z = (a - a.mean(axis=0)) / np.maximum(a.std(axis=0), 1e-9)
    top = np.argsort(-np.abs(z), axis=1, kind="stable")[:, :k]
    return [
        ", ".join(f"{names[i]} {'−' if z[n, i] < 0 else '+'}{abs(z[n, i]):.1f}σ" for i in row)
        for n, row in enumerate(top)
    ]


def pca_scatter(
    result: PCAResult,
    mags: MagnitudeSet,
    n_dims: int = 2,
    color: Color = "video",
    names: Sequence[str] | None = None,
) -> go.Figure:
    """Frames as points on the leading 2 or 3 principal components, one trace per video (lines
    join consecutive frames; each video has its own marker symbol, so colour by time keeps them
    apart). ``customdata`` holds (index into ``mags``, frame number, time 0..1); hover shows the
    clip, frame, time and the frame's top directions (named by ``names``, default d1..dM)."""
    if n_dims not in (2, 3):
        raise AnalysisError(f"n_dims must be 2 or 3, got {n_dims}")
    dims = _dims(result, n_dims)
    colors = marker_colors(mags, color)
    index = np.arange(len(mags))
    names = [f"d{i + 1}" for i in range(mags.alpha.shape[1])] if names is None else names
    tops = np.array(top_directions(mags.alpha, names), dtype=object)
    time = mags.time
    fig = go.Figure()
    for v, name in enumerate(mags.names):
        sel = mags.video == v
        xyz = {a: result.scores[sel, d] for a, d in zip("xyz", dims, strict=False)}
        custom = np.stack([index[sel], mags.frame[sel], time[sel]], axis=1)
        common = dict(
            name=name,
            mode="markers+lines",
            customdata=custom,
            text=tops[sel],
            hovertemplate=f"<b>{name}</b>, frame %{{customdata[1]}} (time %{{customdata[2]:.2f}})"
            "<br>top directions: %{text}<extra></extra>",
            line=dict(color=PALETTE[v % len(PALETTE)], width=1),
        )
        symbol = SYMBOLS[v % len(SYMBOLS)]
        if n_dims == 2:
            marker = dict(size=8, symbol=symbol, **colors[v])
            fig.add_trace(go.Scatter(**xyz, marker=marker, **common))
        else:
            marker = dict(size=4, symbol=symbol, **colors[v])
            fig.add_trace(go.Scatter3d(**xyz, marker=marker, **common))
    shown = 100 * result.explained[: len(dims)].sum()
    plotted = " + ".join(f"PC{k + 1} ({100 * result.explained[k]:.0f}%)" for k in dims)
    fig.update_layout(
        title=dict(
            text=f"PCA of motion magnitudes: {plotted} = {shown:.0f}% of the variance",
            font=dict(size=14),
        ),
        template="plotly_white",
        height=460,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", y=-0.12),
    )
    if n_dims == 2:
        fig.update_layout(
            xaxis_title=axis_title(result, 0),
            yaxis_title=axis_title(result, 1),
            hovermode="closest",
        )
    else:
        fig.update_layout(
            scene=dict(
                xaxis_title=axis_title(result, 0),
                yaxis_title=axis_title(result, 1),
                zaxis_title=axis_title(result, 2),
            )
        )
    return fig


def with_color_buttons(fig: go.Figure, mags: MagnitudeSet) -> go.Figure:
    """Add 'colour by video / time' buttons that work in a static HTML page."""

    def restyle(color: Color) -> dict:
        cols = marker_colors(mags, color)
        keys = ("color", "colorscale", "cmin", "cmax", "showscale")
        return {f"marker.{k}": [c.get(k) for c in cols] for k in keys}

    fig.update_layout(
        updatemenus=[
            dict(
                type="buttons",
                direction="right",
                x=1.0,
                xanchor="right",
                y=1.12,
                buttons=[
                    dict(label="colour by video", method="restyle", args=[restyle("video")]),
                    dict(label="colour by time", method="restyle", args=[restyle("time")]),
                ],
            )
        ]
    )
    return fig


def write_html(fig: go.Figure, path: str | os.PathLike) -> Path:
    """Write a figure as an offline HTML page, atomically; ``plotly.min.js`` is written once next
    to it (shared by every page in the folder, no network needed)."""
    from plotly.offline import get_plotlyjs

    path = Path(path)
    js = path.parent / "plotly.min.js"
    if not js.exists():
        write_text(js, get_plotlyjs(), AnalysisError)
    return write_text(
        path, fig.to_html(include_plotlyjs="directory", full_html=True), AnalysisError
    )
