"""LIA = encoder E + motion dictionary D_m + decoder G, with the paper's latent-code formulas.

Notation (paper, Sec. 3): for a source image s the encoder gives z_{s->r} (``latent``, the code
of the source's canonical *reference* pose) and magnitudes A_s (``alpha``). The latent path of a
driving frame d is w_{r->d} = sum_i A_d,i d_i. Codes are decoded together with the source's
appearance features, which the decoder's flow fields warp.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import LIAConfig
from .encoder import Encoder
from .synthesis import Synthesis, SynthesisOutput

# glibc's largest dynamic mmap threshold: buffers up to this size are reused from the heap.
CPU_CHUNK_BYTES = 32 * 2**20


@dataclass
class SourceState:
    """Everything the decoder needs from a source image, computed once by ``encode_source``."""

    latent: torch.Tensor  # z_{s->r} (B, D)
    alpha: torch.Tensor  # A_s (B, M): the source's own motion magnitudes
    features: list[torch.Tensor]  # appearance features, coarse (8x8) to fine (SxS)

    @property
    def batch_size(self) -> int:
        return self.latent.shape[0]

    def to(self, *args, **kwargs) -> SourceState:
        return SourceState(
            self.latent.to(*args, **kwargs),
            self.alpha.to(*args, **kwargs),
            [f.to(*args, **kwargs) for f in self.features],
        )

    def select(self, index: int) -> SourceState:
        """The batch-1 state of sample ``index``."""
        sl = slice(index, index + 1)
        return SourceState(self.latent[sl], self.alpha[sl], [f[sl] for f in self.features])


class LIA(nn.Module):
    """Latent Image Animator (Wang et al., ICLR 2022). Build with ``LIA(LIAConfig(...))``.

    Submodules ``enc`` and ``dec`` carry the official parameter names, so an official generator
    state_dict loads with ``load_state_dict`` as it is.
    """

    def __init__(self, config: LIAConfig | None = None) -> None:
        super().__init__()
        self.config = config or LIAConfig()
        self.enc = Encoder(self.config)
        self.dec = Synthesis(self.config)

    # ---- encoding ---------------------------------------------------------------------------
    def encode_source(self, x: torch.Tensor) -> SourceState:
        """Source images (B, 3, S, S) in [-1, 1] -> latent z_{s->r}, magnitudes A_s, features."""
        self._check_images(x)
        latent, alpha, features = self.enc(x)
        return SourceState(latent, alpha, features)

    def encode_motion(self, frames: torch.Tensor) -> torch.Tensor:
        """Driving frames (T, 3, S, S) -> motion magnitudes A (T, M). The features are skipped."""
        self._check_images(frames)
        chunks = frames.split(self._chunk_size(frames))
        return torch.cat([self.enc.fc(self.enc.net_app(chunk)[0]) for chunk in chunks])

    def directions(self) -> torch.Tensor:
        """The orthonormal motion directions as columns of Q (D, M), recomputed by QR (Sec. 3.3)."""
        if not self.config.motion_dictionary:
            raise RuntimeError(
                "this model was built without a motion dictionary (motion_dictionary=False)"
            )
        return self.dec.direction.directions()

    def motion_path(self, alpha: torch.Tensor) -> torch.Tensor:
        """w = sum_i alpha_i d_i (eq. 6): magnitudes (..., M) -> latent path (..., D)."""
        self._check_tensor(alpha, "magnitudes", (self._n_magnitudes,))
        return self.dec.direction(alpha)

    # ---- latent codes (paper, Sec. 3.4) -----------------------------------------------------
    def reference_latent(self, state: SourceState) -> torch.Tensor:
        """z_{s->r}: decoding it gives the reference image x_r, the source in canonical pose."""
        return state.latent

    def self_latent(self, state: SourceState) -> torch.Tensor:
        """z_{s->s} = z_{s->r} + w_{r->s}: decodes to the reconstruction of the source itself."""
        return state.latent + self.motion_path(state.alpha)

    def absolute_latent(
        self,
        state: SourceState,
        alpha_driving: torch.Tensor,
        gains: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Absolute transfer (eq. 11): z_{s->d} = z_{s->r} + w_{r->d}. Returns (T, D).

        ``gains`` (M,) mixes the motion per direction: z = z_{s->r} + w(A_s + g * (A_d - A_s)),
        so g_i = 1 takes the driving magnitude, 0 keeps the source's own, and all ones is eq. 11.
        """
        if gains is None:
            return state.latent + self.motion_path(alpha_driving)
        self._check_tensor(alpha_driving, "driving magnitudes", (self._n_magnitudes,))
        own = state.alpha.reshape(1, -1)
        return state.latent + self.motion_path(own + self._gains(gains) * (alpha_driving - own))

    def relative_latent(
        self,
        state: SourceState,
        alpha_driving: torch.Tensor,
        alpha_start: torch.Tensor,
        gains: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Relative transfer (eq. 12): z_{s->t} = z_{s->s} + (w_{r->t} - w_{r->1}).

        ``alpha_start`` is the magnitude vector of the driving frame matched to the source (the
        first frame, usually), (1, M) or (M,). ``gains`` (M,) scales the transferred change per
        direction, z = z_{s->s} + w(g * (A_t - A_1)): g_i = 0 keeps the source's own magnitude
        (a muted direction), all ones is eq. 12. Returns (T, D).
        """
        for alpha, what in ((alpha_driving, "driving magnitudes"), (alpha_start, "alpha_start")):
            self._check_tensor(alpha, what, (self._n_magnitudes,))
        start = alpha_start.reshape(1, -1)
        if gains is None:
            delta = self.motion_path(alpha_driving) - self.motion_path(start)
        else:
            delta = self.motion_path(self._gains(gains) * (alpha_driving - start))
        return self.self_latent(state) + delta

    def _gains(self, gains: torch.Tensor) -> torch.Tensor:
        m = self.config.motion_dim
        self._check_tensor(gains, "gains")
        if gains.numel() != m:
            raise ValueError(f"gains must hold one value per direction ({m}), got {gains.numel()}")
        return gains.reshape(1, m)

    def edit_latent(self, state: SourceState, magnitudes: torch.Tensor) -> torch.Tensor:
        """Linear manipulation (paper Fig. 6): z = z_{s->s} + sum_i e_i d_i.

        ``magnitudes`` (..., M) are the offsets e_i along each direction; ``e = delta * one_hot(i)``
        moves along d_i alone, as the official manipulation script does.
        """
        return self.self_latent(state) + self.motion_path(magnitudes)

    # ---- decoding ---------------------------------------------------------------------------
    def decode(
        self,
        state: SourceState,
        z: torch.Tensor,
        return_flows: bool = False,
        levels: int | None = None,
    ) -> torch.Tensor | SynthesisOutput:
        """Decode latent codes z (T, D) with the source's features -> images (T, 3, S, S).

        A batch-1 state broadcasts over all T codes; otherwise the batches must match. With
        ``return_flows`` a ``SynthesisOutput`` also holds each level's flow field and mask.
        ``levels`` < the number of levels decodes only the coarser ones (a preview of size
        S / 2**(n - levels)).
        """
        self._check_tensor(z, "z", (self.config.latent_dim,), dims=2)
        features = state.features
        if state.batch_size == 1 and z.shape[0] != 1:
            features = [f.expand(z.shape[0], -1, -1, -1) for f in features]
        elif state.batch_size != z.shape[0]:
            raise ValueError(
                f"source batch {state.batch_size} and {z.shape[0]} latent codes do not match "
                "(a batch-1 source broadcasts)"
            )
        step = self._chunk_size(z)
        if step >= z.shape[0]:
            return self.dec(z, features, return_flows=return_flows, levels=levels)
        parts = [
            self.dec(z[i : i + step], [f[i : i + step] for f in features], return_flows, levels)
            for i in range(0, z.shape[0], step)
        ]
        if not return_flows:
            return torch.cat(parts)
        return SynthesisOutput(
            torch.cat([p.image for p in parts]),
            [torch.cat(level) for level in zip(*(p.flows for p in parts), strict=True)],
            [torch.cat(level) for level in zip(*(p.masks for p in parts), strict=True)],
        )

    def _chunk_size(self, like: torch.Tensor) -> int:
        """Frames per pass on a CPU: as many as keep the largest activation (the finest level)
        under glibc's 32 MiB mmap threshold. Bigger buffers are mapped fresh on every call and
        page-faulted in, which made batch 8 slower per frame than batch 1 at 256x256."""
        if like.device.type != "cpu":
            return like.shape[0]
        size = self.config.size
        per_frame = self.config.channels(size) * size * size * like.element_size()
        return max(1, CPU_CHUNK_BYTES // per_frame)

    # ---- training ---------------------------------------------------------------------------
    def forward(
        self, source: torch.Tensor, driving: torch.Tensor, return_motion: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The training forward of the paper (and the official evaluation's ``gen(s, d)``):
        reconstruct ``driving`` (B, 3, S, S) from ``source`` by absolute transfer (eq. 11).
        With ``return_motion`` also the driving magnitudes A_d (B, M), which a penalty on the
        motion can use."""
        state = self.encode_source(source)
        alpha = self.encode_motion(driving)
        image = self.decode(state, self.absolute_latent(state, alpha))
        return (image, alpha) if return_motion else image

    def zero_init_heads(self) -> None:
        """Zero the flow and RGB heads, so training starts from warping the source features by
        the identity (flow 0, mask 1/2) and adding nothing: every level then grows as a residual.
        With random heads a small model masks its finest level off early (a sharp copy of the
        source in the wrong place costs more L1 than a blur) and never recovers: its images stay
        blurry. The paper starts from random heads."""
        with torch.no_grad():
            for head in self.dec.to_flows:
                head.conv.weight.zero_()
                head.bias.zero_()
            for head in self.dec.to_rgbs:
                head.conv[0].weight.zero_()

    @property
    def _n_magnitudes(self) -> int:
        """Values per magnitude vector: M, or D for a model without a motion dictionary."""
        cfg = self.config
        return cfg.motion_dim if cfg.motion_dictionary else cfg.latent_dim

    def _check_images(self, x: torch.Tensor) -> None:
        s = self.config.size
        self._check_tensor(x, "images")
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] != s or x.shape[3] != s:
            raise ValueError(f"expected images of shape (B, 3, {s}, {s}), got {tuple(x.shape)}")

    def _check_tensor(
        self, x: object, what: str, tail: tuple[int, ...] = (), dims: int | None = None
    ) -> None:
        """Checked once on the way in, so a wrong input is one sentence naming it rather than a
        dtype or matmul error from deep inside a layer: a tensor of the model's own floating
        dtype and device, ending in ``tail`` (``dims`` dimensions, if given)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
        weight = self.dec.input.input  # any parameter: they share one dtype and device
        allowed = {weight.dtype}
        if torch.is_autocast_enabled(x.device.type):  # its layers hand on their own dtype
            allowed.add(torch.get_autocast_dtype(x.device.type))
        if x.dtype not in allowed:
            hint = ", in [-1, 1] (from uint8: x / 127.5 - 1)" if what == "images" else ""
            want, got = (str(t).removeprefix("torch.") for t in (weight.dtype, x.dtype))
            raise TypeError(f"{what} must be {want} (the model's dtype){hint}, got {got}")
        if x.device != weight.device:
            raise ValueError(f"{what} are on {x.device}, the model on {weight.device}")
        shape = tuple(x.shape)
        if (dims is not None and len(shape) != dims) or shape[len(shape) - len(tail) :] != tail:
            want = ", ".join(
                ["..."] * (dims is None) + ["T"] * ((dims or 1) - 1) + [str(n) for n in tail]
            )
            raise ValueError(f"{what} must be ({want}), got {shape}")
