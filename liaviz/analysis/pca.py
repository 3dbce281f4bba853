"""The PCA of motion magnitudes (GANSpace-style axes in the d_i basis): fitted once here, for the
explorer's PC sliders, the demo's scatter and the factor alignment of ``benchmarks``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import PCA

from . import AnalysisError
from .magnitudes import alpha_of


@dataclass
class PCAResult:
    """PCA of magnitudes. ``components`` (k, M) are unit vectors in the d_i basis; ``std`` (k,)
    is each component's standard deviation; ``scores`` (N, k) the frames' coordinates."""

    pca: PCA
    scores: np.ndarray
    components: np.ndarray = field(init=False)
    mean: np.ndarray = field(init=False)
    explained: np.ndarray = field(init=False)  # ratio of variance, (k,)
    std: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.components = self.pca.components_.astype(np.float64)
        self.mean = self.pca.mean_.astype(np.float64)
        self.explained = self.pca.explained_variance_ratio_.astype(np.float64)
        self.std = np.sqrt(np.maximum(self.pca.explained_variance_, 0.0)).astype(np.float64)

    @property
    def n_components(self) -> int:
        return self.components.shape[0]


def fit_pca(alpha, n_components: int | None = None) -> PCAResult:
    """PCA (scikit-learn, full SVD) of magnitudes (N, M) or a ``MagnitudeSet``: all
    min(N, M) components by default."""
    a = alpha_of(alpha)
    k = min(a.shape) if n_components is None else int(n_components)
    if not 1 <= k <= min(a.shape):
        raise AnalysisError(f"n_components must be 1..{min(a.shape)} for {a.shape[0]} frames")
    pca = PCA(n_components=k, svd_solver="full").fit(a)
    return PCAResult(pca, pca.transform(a))


def pcs_to_directions(result: PCAResult, pcs, in_std: bool = True) -> np.ndarray:
    """Coordinates along the principal components (..., k') -> an edit in the d_i basis (..., M).

    ``in_std``: coordinates are in standard deviations of each component (slider units);
    k' <= k leading components are used. The edit is an offset (no mean), e = sum_j c_j s_j v_j.
    """
    c = np.asarray(pcs, np.float64)
    k = c.shape[-1]
    if k > result.n_components:
        raise AnalysisError(f"{k} PC coordinates given, the PCA has {result.n_components}")
    if in_std:
        c = c * result.std[:k]
    return (c @ result.components[:k]).astype(np.float32)


def directions_to_pcs(result: PCAResult, edit, in_std: bool = True) -> np.ndarray:
    """An edit in the d_i basis (..., M) -> its PC coordinates (..., k) (the inverse map on the
    span of the components; the rest of the edit is dropped)."""
    c = np.asarray(edit, np.float64) @ result.components.T
    if in_std:
        c = c / np.where(result.std > 0, result.std, 1.0)
    return c
