"""VGG19 feature extractor for the perceptual loss (training only).

liaviz defines the network itself (no torchvision) with torchvision's layer indices, so the
standard ImageNet file (``vgg19-dcbb9e9d.pth``, a plain state_dict) loads key for key. The caller
reads the file (see ``liaviz.training.losses.load_vgg19``) and passes the state_dict to
``VGG19Features.from_state_dict``: ``nn`` does no I/O. A freshly constructed ``VGG19Features``
is marked as not loaded, and the perceptual loss refuses to run on it, so random weights can
never pass for a perceptual loss.
"""

from __future__ import annotations

import torch
from torch import nn

# torchvision's `vgg19().features` layout up to relu5_1: conv widths, "M" for 2x2 max-pooling.
_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
# indices of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in `features`
FEATURE_LAYERS = (1, 6, 11, 20, 29)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGWeightsError(ValueError):
    """A state_dict that is not torchvision's VGG19 (missing keys or other shapes)."""


class VGG19Features(nn.Module):
    """relu1_1 ... relu5_1 activations of VGG19 for images in [-1, 1] (ImageNet-normalized inside).

    Parameters are frozen: the perceptual loss only backpropagates *through* the network.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in _LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.weights_loaded = False

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> VGG19Features:
        """Build from a torchvision-style VGG19 state_dict (``features.N.weight`` keys).

        Layers past relu5_1 and the classifier are ignored. Raises ``VGGWeightsError`` naming the
        first missing or mis-shaped key.
        """
        model = cls()
        wanted = model.features.state_dict()
        picked = {}
        for key, tensor in wanted.items():
            full = f"features.{key}"
            if full not in state:
                raise VGGWeightsError(f"not a VGG19 state_dict: {full} is missing")
            value = state[full]
            if not isinstance(value, torch.Tensor) or value.shape != tensor.shape:
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value)
                raise VGGWeightsError(
                    f"not a VGG19 state_dict: {full} has shape {shape}, "
                    f"expected {tuple(tensor.shape)} (is it VGG16 or another network?)"
                )
            picked[key] = value.float()
        model.features.load_state_dict(picked)
        model.weights_loaded = True
        return model

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2 - self.mean.to(x.dtype)) / self.std.to(x.dtype)  # [-1,1] -> ImageNet
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in FEATURE_LAYERS:
                out.append(x)
                if i == FEATURE_LAYERS[-1]:
                    break
        return out
