"""Decoding the explorer's edits at two qualities: the full image, and a preview from a coarser
decoder level. Each decoder level doubles the resolution and the finest costs the most (at 256 px
the 128 px level costs about a quarter of a full decode), so the preview level is the finest one
whose last decode fitted the time budget; it adapts as the machine gets busier or freer."""

from __future__ import annotations

import time

import matplotlib
import numpy as np
import torch

from ..io import to_uint8
from ..nn import LIA, SourceState
from ..runtime.device import Precision, inference

DIFF_GAIN = 4.0  # the difference map shows |edit - reconstruction| times this


class EditDecoder:
    """``full(e)`` and ``preview(e)``: the source's code moved by the edit e (M,),
    z = z_{s->s} + sum_i e_i d_i, decoded in full or up to a coarser level (uint8 images)."""

    def __init__(
        self, model: LIA, state: SourceState, precision: Precision, budget_s: float = 0.3
    ) -> None:
        self.model, self.state, self.precision = model, state, precision
        self.budget_s = budget_s
        self.n_levels = len(model.config.resolutions)
        self.preview_levels = max(1, self.n_levels - 1)
        # never coarser than a quarter of the size: a slower preview beats an unreadable one
        self.min_preview_levels = max(1, self.n_levels - 2)
        self.full_s: float | None = None  # the last full decode's time
        self.preview_s: float | None = None  # the last preview's time
        self._zero: dict[int, np.ndarray] = {}  # reconstructions (e = 0) per level count

    @property
    def preview_is_full(self) -> bool:
        """A full decode fits the budget: previews are full images (small models)."""
        return self.full_s is not None and self.full_s <= self.budget_s

    def decode(self, e: np.ndarray, levels: int | None = None) -> np.ndarray:
        e = torch.as_tensor(np.asarray(e, np.float32).reshape(1, -1))
        with inference(self.model, self.precision):
            z = self.model.edit_latent(self.state, e.to(self.state.latent.device))
            return to_uint8(self.model.decode(self.state, z, levels=levels))[0]

    def full(self, e: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        img = self.decode(e)
        self.full_s = time.perf_counter() - t0
        return img

    def preview(self, e: np.ndarray) -> tuple[np.ndarray, bool]:
        """(image, whether it is the full image). Adapts the level to the budget."""
        if self.preview_is_full:
            return self.full(e), True
        levels = self.preview_levels
        t0 = time.perf_counter()
        img = self.decode(e, levels)
        self.preview_s = time.perf_counter() - t0
        if self.preview_s > self.budget_s and levels > self.min_preview_levels:
            self.preview_levels = levels - 1
        elif self.preview_s < self.budget_s / 5 and levels < self.n_levels - 1:
            self.preview_levels = levels + 1  # a finer level costs 2-4x: still inside
        return img, False

    def reconstruction(self, size: int) -> np.ndarray:
        """The source's reconstruction (e = 0) at a decoded size (cached per size)."""
        levels = self.n_levels - int(round(np.log2(self.model.config.size / size)))
        if levels not in self._zero:
            zero = np.zeros(self.model.config.motion_dim, np.float32)
            self._zero[levels] = self.decode(zero, levels)
        return self._zero[levels]

    def difference(self, image: np.ndarray) -> np.ndarray:
        """|image - reconstruction| (mean over RGB) times ``DIFF_GAIN`` in the magma colours:
        black where the edit changed nothing."""
        ref = self.reconstruction(image.shape[0]).astype(np.float32)
        d = np.abs(image.astype(np.float32) - ref).mean(axis=-1) * DIFF_GAIN / 255.0
        rgb = matplotlib.colormaps["magma"](np.clip(d, 0.0, 1.0))[..., :3]
        return (rgb * 255).round().astype(np.uint8)
