"""Matplotlib figures of the analysis: the sweep grid (the paper's Fig. 6), the PCA scatter with
its explained variance, and the reference view (Fig. 5). Figures are built without pyplot (no
GUI backend, no global state) and written by ``save_figure``, atomically."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..io.atomic import write_bytes
from ..nn import LIA
from ..runtime.device import Precision
from . import AnalysisError
from .edits import DEFAULT_VALUES, check_directions, direction_labels, sweep_images
from .flows import ReferenceArrays, color_wheel
from .magnitudes import MagnitudeSet
from .pca import PCAResult


def mosaic(images: np.ndarray, gap: int = 2, fill: int = 255) -> np.ndarray:
    """(rows, cols, H, W, 3) uint8 -> one image with ``gap`` pixels between cells."""
    rows, cols, h, w, c = images.shape
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), fill, np.uint8)
    for r in range(rows):
        for k in range(cols):
            out[r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = images[r, k]
    return out


def sweep_grid(
    model: LIA,
    image,
    directions: Iterable[int] | None = None,
    values: Sequence[float] = DEFAULT_VALUES,
    names: Sequence[str] | None = None,
    batch_size: int | None = None,
    precision: Precision | None = None,
    cell_inches: float = 0.9,
    progress: bool = False,
) -> Figure:
    """The paper's Fig. 6 as one matplotlib figure: rows = directions, columns = magnitudes.

    The images are laid out as one mosaic (a single ``imshow``, fast even for 20 x 9 cells at
    256 px); the column of magnitude 0, the source's reconstruction, is outlined.
    """
    dirs = check_directions(model, directions)
    labels = direction_labels(model.config.motion_dim, names)
    vals = np.asarray(values, dtype=np.float32).reshape(-1)
    imgs = sweep_images(model, image, dirs, vals, batch_size, precision, progress)
    return grid_figure(imgs, [labels[d] for d in dirs], vals, cell_inches)


def grid_figure(
    images: np.ndarray, row_labels: Sequence[str], values: Sequence[float], cell_inches: float = 0.9
) -> Figure:
    """Lay out sweep images (rows, cols, H, W, 3) with row names and column magnitudes."""
    rows, cols, h, w, _ = images.shape
    gap = max(1, h // 32)
    grid = mosaic(images, gap)
    width, height = cols * cell_inches + 0.9, rows * cell_inches + 0.6
    fig = Figure(figsize=(width, height))
    # margins in inches: 0.8 left for the names, 0.5 on top for the magnitudes
    ax = fig.add_axes((0.8 / width, 0.1 / height, 1 - 0.9 / width, 1 - 0.6 / height))
    ax.imshow(grid, interpolation="nearest" if h < 128 else "antialiased")
    ax.set_xticks([k * (w + gap) + w / 2 for k in range(cols)])
    ax.set_xticklabels([f"{v:+g}" if v else "0" for v in values], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks([r * (h + gap) + h / 2 for r in range(rows)])
    ax.set_yticklabels(list(row_labels), fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    zero = [k for k, v in enumerate(values) if abs(float(v)) < 1e-9]
    for k in zero:
        ax.add_patch(
            Rectangle(
                (k * (w + gap) - gap / 2, -gap / 2),
                w + gap,
                grid.shape[0] + gap,
                fill=False,
                edgecolor="#d62728",
                linewidth=1.0,
            )
        )
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: float = 100) -> Path:
    """Write a figure atomically (temp file next to the target, then rename)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", facecolor="white")
    return write_bytes(path, buf.getvalue(), AnalysisError)


def pca_figure(
    result: PCAResult,
    mags: MagnitudeSet | None = None,
    dims: tuple[int, int] = (0, 1),
    color: Literal["video", "time"] = "video",
) -> Figure:
    """Static scatter of the frames on two principal components, and the explained variance."""
    i, j = dims
    if max(i, j) >= result.n_components:
        raise AnalysisError(f"the PCA has {result.n_components} components, asked for {dims}")
    fig = Figure(figsize=(9.0, 4.0))
    ax, bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    video = mags.video if mags is not None else np.zeros(len(result.scores), int)
    names = mags.names if mags is not None else ["frames"]
    time = mags.time if mags is not None else np.linspace(0, 1, len(result.scores))
    cmap = matplotlib.colormaps["tab10"]
    markers = "osD^vPX*"
    for v, name in enumerate(names):
        sel = video == v
        xs, ys = result.scores[sel, i], result.scores[sel, j]
        mk = markers[v % len(markers)]
        ax.plot(xs, ys, "-", color=cmap(v % 10), alpha=0.25, linewidth=0.8)
        if color == "time":
            sc = ax.scatter(
                xs, ys, c=time[sel], cmap="viridis", vmin=0, vmax=1, s=14, marker=mk, label=name
            )
        else:
            ax.scatter(xs, ys, color=cmap(v % 10), s=14, marker=mk, label=name)
    if color == "time":
        fig.colorbar(sc, ax=ax, label="time in video")
    if len(names) > 1 or color == "video":
        ax.legend(fontsize=8, loc="best")
    ax.set_xlabel(f"PC{i + 1} ({100 * result.explained[i]:.1f}% of variance)")
    ax.set_ylabel(f"PC{j + 1} ({100 * result.explained[j]:.1f}% of variance)")
    ax.set_title("motion magnitudes A, projected on principal components", fontsize=10)
    k = np.arange(1, result.n_components + 1)
    bar.bar(k, 100 * result.explained, color="#4c72b0")
    bar.plot(k, 100 * np.cumsum(result.explained), "o-", color="#dd8452", markersize=3)
    bar.set_xlabel("principal component")
    bar.set_ylabel("% of variance (bars), cumulative (line)")
    bar.set_ylim(0, 102)
    fig.tight_layout()
    return fig


def reference_figure(arrays: ReferenceArrays, code: str = "reference") -> Figure:
    """Static version of ``ReferenceView``: source, x_r, reconstruction, then flows and masks."""
    if code not in arrays.flows:
        raise AnalysisError(f"code must be one of {', '.join(arrays.flows)}, got {code!r}")
    n = len(arrays.resolutions)
    cols = max(n, 4)
    fig = Figure(figsize=(1.7 * cols, 1.8 * 3))
    axes = fig.subplots(3, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    top = [
        (arrays.source, "source x_s"),
        (arrays.reference, "reference x_r = G(z_s→r)"),
        (arrays.reconstruction, "reconstruction G(z_s→s)"),
        (color_wheel(96), "flow colours"),
    ]
    for ax, (img, title) in zip(axes[0], top, strict=False):
        ax.imshow(img)
        ax.set_title(title, fontsize=8)
    for k, r in enumerate(arrays.resolutions):
        axes[1, k].imshow(arrays.flows[code][k], interpolation="nearest")
        axes[1, k].set_title(
            f"flow {r}x{r} (max {arrays.max_displacement[code][k]:.2f})", fontsize=7
        )
        axes[2, k].imshow(arrays.masks[code][k], interpolation="nearest")
        axes[2, k].set_title(f"mask {r}x{r}", fontsize=7)
    for row, (name, what) in enumerate(
        [
            ("flow", "hue = direction,\npaler = smaller"),
            ("mask", "white = warped,\nblack = generated"),
        ],
        start=1,
    ):  # the rows say what they hold, at their left
        axes[row, 0].text(
            -0.12,
            0.5,
            f"{name}\n({what})",
            transform=axes[row, 0].transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=7,
        )
    fig.suptitle(f"flow fields and masks of the {code} decode, coarse to fine", fontsize=9)
    fig.tight_layout()
    return fig
