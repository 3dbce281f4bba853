"""Fit a flow field's change with the four similarity fields about the image centre (pure numpy).

The fields, for pixel centres (x, y) in [-1, 1] (x right, y down): translate_x (1, 0),
translate_y (0, 1), rotate (-y, x) (clockwise on screen) and scale (x, y). ``decompose_flow`` is
a weighted least-squares fit of N changes at once; ``fit_weights`` the weights that
``liaviz.analysis.anatomy`` uses (its docstring explains them); ``weighted_box`` where a heat map's mass
lies. Used by ``liaviz.analysis.anatomy``; no model here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COMPONENTS = ("translate_x", "translate_y", "rotate", "scale")
GRADIENT_FLOOR = 0.01  # image-gradient weight floor, as a fraction of its mean
REGION_QUANTILES = (0.1, 0.9)  # the box spans these quantiles of the heat along x and along y


def grid_positions(resolution: int) -> np.ndarray:
    """(r, r, 2) pixel centres as the decoder's identity grid places them, x then y, in [-1, 1]."""
    axis = np.linspace(-1.0, 1.0, resolution)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([x, y], axis=-1)


def similarity_basis(resolution: int) -> np.ndarray:
    """(r, r, 2, 4): the fields translate_x, translate_y, rotate and scale about the centre."""
    p = grid_positions(resolution)
    x, y = p[..., 0], p[..., 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    fields = [(one, zero), (zero, one), (-y, x), (x, y)]
    return np.stack([np.stack(f, axis=-1) for f in fields], axis=-1)


def motion_density(deltas: np.ndarray) -> np.ndarray:
    """Where a set of flow changes (K, r, r, 2) moves anything: (r, r), mean 1 (0 where nothing
    moves). Each field's |dF|^2 is normalised to mean 1 first, so every direction counts alike."""
    d = np.asarray(deltas, np.float64)
    if d.ndim != 4 or d.shape[-1] != 2:
        raise ValueError(f"expected flow changes (K, r, r, 2), got {d.shape}")
    energy = (d**2).sum(-1)
    mean = energy.mean(axis=(1, 2), keepdims=True)
    density = (energy / np.where(mean > 0, mean, 1.0)).mean(0)
    return density / max(float(density.mean()), 1e-12)


def fit_weights(deltas: np.ndarray, image: np.ndarray | None = None) -> np.ndarray:
    """The fit's weights (r, r) for a source's flow changes (K, r, r, 2) and the source image
    (uint8 (r, r, 3), or None for no gradient factor): see the module docstring."""
    from scipy.ndimage import sobel

    d = np.asarray(deltas, np.float64)
    r = d.shape[1]
    support = np.clip(motion_density(d), 0.0, 1.0) + 1e-6
    if image is None:
        return support
    gray = np.asarray(image, np.float64).mean(-1) / 255.0
    if gray.shape != (r, r):
        raise ValueError(f"image {gray.shape} and flow changes {d.shape[1:3]} differ in size")
    g2 = sobel(gray, 0) ** 2 + sobel(gray, 1) ** 2
    return (g2 + GRADIENT_FLOOR * max(float(g2.mean()), 1e-12)) * support


@dataclass
class Decomposition:
    """``decompose_flow`` of N fields: coefficients and weighted energies."""

    coefficients: np.ndarray  # (N, 4) fitted c_k, in flow units (per unit of whatever dF is per)
    shares: np.ndarray  # (N, 4) global shares, fractions of the weighted energy
    local: np.ndarray  # (N,) residual share
    energy: np.ndarray  # (N,) weighted energy sum_p w |dF|^2 / sum_p w
    residual: np.ndarray  # (N, r, r, 2)


def decompose_flow(deltas: np.ndarray, weights: np.ndarray | None = None) -> Decomposition:
    """Weighted least squares of flow changes (N, r, r, 2) (or one (r, r, 2)) onto the four
    similarity fields; ``weights`` (r, r) or (N, r, r), uniform when None."""
    d = np.asarray(deltas, np.float64)
    if d.ndim == 3:
        d = d[None]
    if d.ndim != 4 or d.shape[-1] != 2 or d.shape[1] != d.shape[2]:
        raise ValueError(f"expected flow changes (N, r, r, 2), got {d.shape}")
    n, r = d.shape[0], d.shape[1]
    w = np.ones((r, r)) if weights is None else np.asarray(weights, np.float64)
    w = np.broadcast_to(w, (n, r, r))
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite and non-negative")
    basis = similarity_basis(r).reshape(r * r, 2, 4)
    flat = d.reshape(n, r * r, 2)
    gram = np.einsum("pak,np,pal->nkl", basis, w.reshape(n, r * r), basis)
    rhs = np.einsum("pak,npa,np->nk", basis, flat, w.reshape(n, r * r))
    coef = np.linalg.solve(gram + 1e-12 * np.eye(4), rhs[..., None])[..., 0]
    fitted = np.einsum("pak,nk->npa", basis, coef)
    residual = flat - fitted
    wsum = w.reshape(n, -1).sum(1)
    total = np.einsum("np,npa->n", w.reshape(n, -1), flat**2)
    res_energy = np.einsum("np,npa->n", w.reshape(n, -1), residual**2)
    comp = coef**2 * np.diagonal(gram, axis1=1, axis2=2)
    safe_total = np.where(total > 0, total, 1.0)
    local = np.clip(res_energy / safe_total, 0.0, 1.0)
    comp_sum = comp.sum(1, keepdims=True)
    shares = (1.0 - local)[:, None] * comp / np.where(comp_sum > 0, comp_sum, 1.0)
    shares[total <= 0] = 0.0
    local[total <= 0] = 0.0
    return Decomposition(coef, shares, local, total / wsum, residual.reshape(n, r, r, 2))


def weighted_box(heat: np.ndarray, quantiles: tuple[float, float] = REGION_QUANTILES) -> list:
    """[x0, y0, x1, y1] in normalised coordinates (0-1, pixel edges) between the weighted
    quantiles of a heat map's mass along x and along y."""
    h = np.asarray(heat, np.float64)
    r = h.shape[0]
    if h.sum() <= 0:
        return [0.0, 0.0, 1.0, 1.0]
    box = []
    for axis in (0, 1):  # summing rows gives the x profile, columns the y profile
        profile = h.sum(axis)
        cdf = np.cumsum(profile) / profile.sum()
        lo = int(np.searchsorted(cdf, quantiles[0], side="right"))
        hi = int(np.searchsorted(cdf, quantiles[1]))
        box.append((lo / r, (min(hi, r - 1) + 1) / r))
    (x0, x1), (y0, y1) = box
    return [float(x0), float(y0), float(x1), float(y1)]


__all__ = [
    "COMPONENTS",
    "Decomposition",
    "decompose_flow",
    "fit_weights",
    "grid_positions",
    "motion_density",
    "similarity_basis",
    "weighted_box",
]
