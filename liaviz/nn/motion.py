"""The motion dictionary D_m and the latent-code formulas of the paper (Sec. 3.2-3.4)."""

from __future__ import annotations

import torch
from torch import nn


class MotionDictionary(nn.Module):
    """M learned directions in latent space, kept orthonormal by a QR every forward (Sec. 3.3).

    ``weight`` is the raw (D, M) matrix as stored in checkpoints; ``directions()`` is its Q factor.
    """

    def __init__(self, latent_dim: int, motion_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(latent_dim, motion_dim))

    def directions(self) -> torch.Tensor:
        """Orthonormal basis Q (D, M): the columns are the motion directions d_i."""
        # The +1e-8 and the unsigned reduced QR match the official model bit for bit; QR has no
        # half-precision kernels, so it always runs in float32.
        with torch.autocast(self.weight.device.type, enabled=False):
            q, _ = torch.linalg.qr(self.weight.float() + 1e-8)
        return q

    def forward(self, alpha: torch.Tensor) -> torch.Tensor:
        """Latent path w = sum_i alpha_i d_i for magnitudes alpha (..., M) -> (..., D). Eq. (6)."""
        q = self.directions()
        return alpha.to(q.dtype) @ q.t()


class IdentityPath(nn.Module):
    """Stand-in for the dictionary in the no-dictionary ablation: the MLP output *is* the path."""

    def forward(self, alpha: torch.Tensor) -> torch.Tensor:
        return alpha
