"""Training losses of LIA: pixel L1, the VGG19 pyramid perceptual loss, and the GAN losses (plus
a Laplacian-pyramid L1 and a change-weighted L1, options off in the paper configs).

The generator minimizes ``perceptual + l1 + softplus(-D(fake))`` (the official recipe); the
discriminator minimizes ``softplus(-D(real)) + softplus(D(fake))``, optionally plus R1.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints.model import CheckpointError, read_torch
from ..errors import UserError
from ..nn.vgg import VGG19Features, VGGWeightsError

PAPER_SCALES = (1.0, 0.5, 0.25, 0.125)
PAPER_LAYER_WEIGHTS = (10.0, 10.0, 10.0, 10.0, 10.0)
MIN_VGG_SIZE = 16  # relu5_1 comes after four 2x2 poolings


class PerceptualWeightsError(UserError):
    """The VGG19 weights file is missing, unreadable or not VGG19."""


def l1_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute pixel difference."""
    return (prediction - target).abs().mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: mean softplus(-D(G(z)))."""
    return F.softplus(-fake_logits).mean()


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic discriminator loss: mean softplus(-D(x)) + mean softplus(D(G(z)))."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): mean over samples of ||d D(x) / d x||^2 on real images.

    ``real_images`` must have had ``requires_grad_(True)`` before the discriminator saw them.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()


def gaussian_downsample(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Anti-aliased downsampling by ``scale`` (1/2, 1/4, ...), as FOMM's image pyramid does it.

    A Gaussian with sigma = (1/scale - 1) / 2 and a kernel of 2*round(4*sigma)+1 taps, zero
    padding, then every (1/scale)-th pixel is kept.
    """
    if scale == 1.0:
        return x
    step = round(1.0 / scale)
    if step < 2 or abs(step * scale - 1.0) > 1e-6:
        raise ValueError(f"scale must be 1/n for an integer n >= 2, got {scale}")
    sigma = (1.0 / scale - 1.0) / 2.0
    taps = 2 * round(sigma * 4) + 1
    axis = torch.arange(taps, dtype=torch.float32, device=x.device) - (taps - 1) / 2
    g = torch.exp(-(axis**2) / (2 * sigma**2))
    kernel = torch.outer(g, g)
    kernel = (kernel / kernel.sum()).to(x.dtype)
    channels = x.shape[1]
    weight = kernel.expand(channels, 1, taps, taps)
    out = F.conv2d(F.pad(x, [taps // 2] * 4), weight, groups=channels)
    return out[:, :, ::step, ::step]


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass images, finest first: ``levels - 1`` differences G_k - up(G_{k+1}) of a Gaussian
    pyramid (each level the previous one downsampled by 2), then the coarsest G_{levels-1}."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    bands = []
    for _ in range(levels - 1):
        smaller = gaussian_downsample(x, 0.5)
        up = F.interpolate(smaller, size=x.shape[-2:], mode="bilinear", align_corners=False)
        bands.append(x - up)
        x = smaller
    return [*bands, x]


def laplacian_l1(prediction: torch.Tensor, target: torch.Tensor, levels: int) -> torch.Tensor:
    """Mean absolute difference of each band of the Laplacian pyramids, summed over the bands.

    Unlike a Gaussian pyramid L1, the fine bands hold only edges and small parts (an eyelid, a
    lip line), so a blur that gets the average colour right still pays for them in full."""
    return sum(
        (p - t).abs().mean()
        for p, t in zip(
            laplacian_pyramid(prediction, levels), laplacian_pyramid(target, levels), strict=True
        )
    )


def change_weighted_l1(
    prediction: torch.Tensor, target: torch.Tensor, source: torch.Tensor, spread: int = 2
) -> torch.Tensor:
    """Pixel L1 weighted by how much the target differs from the source there.

    The weight map is |target - source| (mean over channels), widened by a max filter of
    ``spread`` pixels on each side (a part drawn slightly off still counts), and scaled to mean 1
    per image, so the term is an L1 that a small moving part (an eyelid, the lips) owns in full
    whatever its share of the pixels. A target equal to its source weighs nothing. The weights
    carry no gradient: they come from the data alone."""
    change = (target - source).detach().abs().mean(1, keepdim=True)
    if spread:
        change = F.max_pool2d(change, 2 * spread + 1, stride=1, padding=spread)
    weight = change / change.mean((2, 3), keepdim=True).clamp_min(1e-8)
    return (weight * (prediction - target).abs()).mean()


class PerceptualPyramidLoss(nn.Module):
    """VGG19 perceptual loss over an image pyramid (FOMM / LIA): for each scale s and layer l,
    ``weight_l * mean |phi_l(pyr_s(prediction)) - phi_l(pyr_s(target))|``, summed.

    Needs a ``VGG19Features`` with ImageNet weights loaded; random weights are refused.
    """

    def __init__(
        self,
        vgg: VGG19Features,
        scales: Sequence[float] = PAPER_SCALES,
        layer_weights: Sequence[float] = PAPER_LAYER_WEIGHTS,
    ) -> None:
        super().__init__()
        if not getattr(vgg, "weights_loaded", False):
            raise ValueError(
                "the perceptual loss needs VGG19 with ImageNet weights "
                "(VGG19Features.from_state_dict); random weights measure nothing perceptual"
            )
        if len(layer_weights) != 5:
            raise ValueError(f"need 5 layer weights (relu1_1..relu5_1), got {len(layer_weights)}")
        self.vgg = vgg.eval()
        self.scales = tuple(float(s) for s in scales)
        self.layer_weights = tuple(float(w) for w in layer_weights)

    def train(self, mode: bool = True) -> PerceptualPyramidLoss:
        super().train(mode)
        self.vgg.eval()  # a fixed feature extractor, whatever mode the caller is in
        return self

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = prediction.new_zeros(())
        for scale in self.scales:
            if prediction.shape[-1] * scale < MIN_VGG_SIZE:
                raise ValueError(
                    f"perceptual scale {scale} of a {prediction.shape[-1]}px image is under "
                    f"{MIN_VGG_SIZE}px, too small for VGG19's four poolings before relu5_1"
                )
            pred_feats = self.vgg(gaussian_downsample(prediction, scale))
            with torch.no_grad():  # the target side is a constant
                target_feats = self.vgg(gaussian_downsample(target, scale))
            for weight, p, t in zip(self.layer_weights, pred_feats, target_feats, strict=True):
                if weight:
                    total = total + weight * (p - t).abs().mean()
        return total


def load_vgg19(path: str | os.PathLike) -> VGG19Features:
    """Read a torchvision-style VGG19 state_dict file (e.g. ``vgg19-dcbb9e9d.pth``) safely.

    Read by ``checkpoint.read_torch`` (tensors and plain data only, never other pickled objects);
    a ``{'state_dict': ...}`` wrapper is accepted.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise PerceptualWeightsError(f"{path}: VGG19 weights file not found")
    try:
        state = read_torch(path, allowed=())
    except CheckpointError as e:
        raise PerceptualWeightsError(f"{e}; expected torchvision's VGG19 weights") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise PerceptualWeightsError(f"{path}: expected a state_dict, found {type(state).__name__}")
    try:
        return VGG19Features.from_state_dict(state)
    except VGGWeightsError as e:
        raise PerceptualWeightsError(f"{path}: {e}") from None
