"""What the learned directions mean, measured against known motion factors.

Given the magnitudes A (N, M) of N frames and the ground-truth factors F (N, K) that produced
them (the synthetic faces know theirs), this answers the question the paper's Fig. 6 answers by
eye: which direction d_i carries which factor, and how much of each factor A holds linearly.
numpy / scipy / scikit-learn only. The components may be the directions' magnitudes A or
their principal components (``liaviz.analysis.pca.fit_pca(A).scores``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold, cross_val_predict


@dataclass
class FactorAlignment:
    """Per factor: the best-correlated component and a cross-validated linear probe."""

    factors: list[str]
    best_component: list[int]  # index of the component with the largest |Spearman rho|
    best_rho: list[float]  # that signed Spearman correlation
    probe_r2: list[float]  # R^2 of a ridge probe from all components, held-out videos
    rho: np.ndarray  # (K, M) Spearman correlation of every factor with every component

    def as_rows(self) -> list[dict]:
        return [
            {"factor": f, "component": c, "spearman": round(r, 3), "probe_r2": round(p, 3)}
            for f, c, r, p in zip(
                self.factors, self.best_component, self.best_rho, self.probe_r2, strict=True
            )
        ]


def spearman_matrix(components: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(K, M) Spearman rank correlations between factor columns and component columns.

    A constant column (a factor that never moves) correlates 0 with everything."""
    n_comp = components.shape[1]
    rho = np.zeros((factors.shape[1], n_comp))
    for k in range(factors.shape[1]):
        if np.ptp(factors[:, k]) == 0:
            continue
        for m in range(n_comp):
            if np.ptp(components[:, m]) == 0:
                continue
            rho[k, m] = spearmanr(factors[:, k], components[:, m]).statistic
    return np.nan_to_num(rho)


def probe_r2(components: np.ndarray, factors: np.ndarray, groups: np.ndarray) -> list[float]:
    """R^2 per factor of a ridge regression from the components, predicted on held-out groups
    (videos), so an identity the probe was fitted on never scores itself."""
    n_splits = min(5, len(np.unique(groups)))
    if n_splits < 2:
        raise ValueError("a probe needs frames from at least two videos")
    predicted = cross_val_predict(
        RidgeCV(alphas=np.logspace(-3, 3, 13)),
        components,
        factors,
        groups=groups,
        cv=GroupKFold(n_splits=n_splits),
    )
    scores = []
    for k in range(factors.shape[1]):
        variance = np.var(factors[:, k])
        if variance == 0:
            scores.append(0.0)
            continue
        scores.append(float(1.0 - np.mean((factors[:, k] - predicted[:, k]) ** 2) / variance))
    return scores


def align_factors(
    components: np.ndarray, factors: np.ndarray, names: list[str], groups: np.ndarray
) -> FactorAlignment:
    """Spearman alignment and linear probe of ``factors`` (N, K) from ``components`` (N, M)."""
    components = np.asarray(components, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    if len(components) != len(factors) or len(factors) != len(groups):
        raise ValueError("components, factors and groups need one row per frame")
    rho = spearman_matrix(components, factors)
    best = np.abs(rho).argmax(axis=1)
    return FactorAlignment(
        factors=list(names),
        best_component=[int(b) for b in best],
        best_rho=[float(rho[k, b]) for k, b in enumerate(best)],
        probe_r2=probe_r2(components, factors, groups),
        rho=rho,
    )
