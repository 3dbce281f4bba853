"""Flow fields, masks and the reference image x_r = G(z_{s->r}) (the paper's Fig. 5) as arrays:
what ``ReferenceView`` shows and ``figures.reference_figure`` draws. A flow field holds absolute
sampling positions in [-1, 1]; shown as a colour wheel (hue = direction, saturation = length)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.colors import hsv_to_rgb

from ..io import to_uint8
from ..nn import LIA
from ..nn.synthesis import identity_grid
from ..runtime.device import Precision, inference
from ..runtime.source import encode_source, source_tensor
from . import ENCODE_PRECISION, AnalysisError


def flow_displacement(flow: torch.Tensor | np.ndarray) -> np.ndarray:
    """Absolute sampling positions (r, r, 2) in [-1, 1] -> displacement from the identity grid,
    in units of the image half-width (2 = the full width)."""
    f = torch.as_tensor(
        np.asarray(flow, np.float32) if not isinstance(flow, torch.Tensor) else flow
    )
    f = f.detach().float().cpu()
    if f.dim() == 4:
        if f.shape[0] != 1:
            raise AnalysisError("flow_displacement takes one flow field (r, r, 2)")
        f = f[0]
    if f.dim() != 3 or f.shape[-1] != 2 or f.shape[0] != f.shape[1]:
        raise AnalysisError(f"expected a flow field (r, r, 2), got {tuple(f.shape)}")
    return (f - identity_grid(f.shape[0])[0]).numpy()


def flow_to_color(flow, max_norm: float | None = None) -> np.ndarray:
    """A flow field as a colour-wheel image, uint8 (r, r, 3): hue = direction of the
    displacement, saturation = its length (white = no motion). ``max_norm`` fixes the scale
    (default: the field's own largest displacement)."""
    d = flow_displacement(flow)
    mag = np.hypot(d[..., 0], d[..., 1])
    norm = max_norm if max_norm is not None else float(mag.max())
    norm = norm if norm > 1e-12 else 1.0
    hsv = np.empty((*mag.shape, 3), np.float64)
    hsv[..., 0] = (np.arctan2(d[..., 1], d[..., 0]) / (2 * np.pi)) % 1.0
    hsv[..., 1] = np.clip(mag / norm, 0.0, 1.0)
    hsv[..., 2] = 1.0
    return (hsv_to_rgb(hsv) * 255).round().astype(np.uint8)


def flow_changes_to_color(changes) -> list[np.ndarray]:
    """Flow changes dF (r, r, 2) in sampling units, e.g. one per direction (``liaviz.analysis.anatomy``),
    as colour-wheel images on one shared scale (paler = smaller), so strengths compare."""
    grid = identity_grid(changes[0].shape[0])[0].numpy()
    scale = max(float(np.hypot(d[..., 0], d[..., 1]).max()) for d in changes) or 1.0
    return [flow_to_color(grid + d, max_norm=scale) for d in changes]


def color_wheel(size: int = 64) -> np.ndarray:
    """The legend of ``flow_to_color``: a disc where each point is coloured as that displacement."""
    axis = np.linspace(-1.0, 1.0, size)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    grid = identity_grid(size)[0].numpy()
    flow = grid + np.stack([x, y], -1)
    img = flow_to_color(flow, max_norm=1.0)
    img[np.hypot(x, y) > 1.0] = 255
    return img


def mask_to_image(mask) -> np.ndarray:
    """A mask (1, r, r) or (r, r) in (0, 1) -> uint8 gray (r, r, 3)."""
    m = torch.as_tensor(mask).detach().float().cpu().reshape(mask.shape[-2], mask.shape[-1])
    g = (m.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return np.repeat(g[..., None], 3, axis=-1)


@dataclass
class ReferenceArrays:
    """The source, its reference image x_r = G(z_{s->r}) and reconstruction G(z_{s->s}), and per
    decoder level (coarse to fine) the flow fields (colour wheel) and masks of each decode."""

    source: np.ndarray
    reference: np.ndarray
    reconstruction: np.ndarray
    resolutions: list[int]
    flows: dict[str, list[np.ndarray]]  # "reference" / "reconstruction" -> [(r, r, 3) uint8]
    masks: dict[str, list[np.ndarray]]
    max_displacement: dict[str, list[float]]


def reference_arrays(model: LIA, image, precision: Precision | None = None) -> ReferenceArrays:
    """Everything ``ReferenceView`` shows, as arrays (the paper's Fig. 5 plus the flow pyramid)."""
    x = source_tensor(model, image)
    state = encode_source(model, x, precision=ENCODE_PRECISION)
    with inference(model, precision):
        z = torch.cat([model.reference_latent(state), model.self_latent(state)])
        out = model.decode(state, z, return_flows=True)
    source = to_uint8(x)
    images = to_uint8(out.image)
    flows, masks, norms = {}, {}, {}
    for b, key in enumerate(("reference", "reconstruction")):
        flows[key] = [flow_to_color(f[b]) for f in out.flows]
        masks[key] = [mask_to_image(m[b]) for m in out.masks]
        norms[key] = [
            float(np.hypot(*np.moveaxis(flow_displacement(f[b]), -1, 0)).max()) for f in out.flows
        ]
    return ReferenceArrays(
        source[0], images[0], images[1], list(model.config.resolutions), flows, masks, norms
    )
