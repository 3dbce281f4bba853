"""`LIAConfig`: the few numbers that fix a LIA architecture. Travels inside every checkpoint."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LIAConfig:
    """Architecture of a LIA model. The defaults are the official LIA at 256x256.

    Channel width at resolution r is ``min(channel_max, channel_multiplier * base(r))`` with the
    official base: 512 up to 32x32, then halving at every octave (256 at 64, 128 at 128, 64 at 256).
    """

    size: int = 256
    latent_dim: int = 512
    motion_dim: int = 20
    channel_multiplier: float = 1.0
    channel_max: int = 512
    motion_layers: int = 4
    # False is the paper's Table 4 ablation: the motion MLP outputs the latent path w directly.
    motion_dictionary: bool = True

    # Upper bounds, checked before a model is built from a config (a file's may be crafted):
    # several times the official sizes, far below what would exhaust a machine.
    LIMITS = {
        "latent_dim": 8192,
        "motion_dim": 1024,
        "channel_max": 4096,
        "channel_multiplier": 64.0,
        "motion_layers": 64,
    }

    def __post_init__(self) -> None:
        for name in ("size", "latent_dim", "motion_dim", "channel_max", "motion_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))  # numpy and torch integers too
        multiplier = self.channel_multiplier
        if isinstance(multiplier, bool) or not isinstance(multiplier, numbers.Real):
            raise TypeError(f"channel_multiplier must be a number, got {multiplier!r}")
        if not math.isfinite(multiplier):
            raise ValueError(f"channel_multiplier must be finite, got {multiplier!r}")
        if not isinstance(self.motion_dictionary, bool):
            raise TypeError(
                f"motion_dictionary must be true or false, got {self.motion_dictionary!r}"
            )
        if self.size < 16 or self.size > 1024 or self.size & (self.size - 1):
            raise ValueError(f"size must be a power of two from 16 to 1024, got {self.size}")
        for name in ("latent_dim", "motion_dim", "channel_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.channel_multiplier <= 0:
            raise ValueError(f"channel_multiplier must be positive, got {self.channel_multiplier}")
        if self.motion_layers < 0:
            raise ValueError(f"motion_layers must be >= 0, got {self.motion_layers}")
        for name, limit in self.LIMITS.items():
            if getattr(self, name) > limit:
                raise ValueError(f"{name} must be at most {limit}, got {getattr(self, name)}")
        if self.motion_dictionary and self.motion_dim > self.latent_dim:
            raise ValueError(
                f"motion_dim ({self.motion_dim}) cannot exceed latent_dim ({self.latent_dim}): "
                "the directions are orthonormal vectors in latent space"
            )

    @property
    def log_size(self) -> int:
        return int(math.log2(self.size))

    @property
    def resolutions(self) -> list[int]:
        """Decoder levels, coarse to fine: 8, 16, ..., size."""
        return [2**i for i in range(3, self.log_size + 1)]

    @staticmethod
    def base_channels(resolution: int) -> int:
        """The official width at ``resolution`` (channel_multiplier 1, no cap)."""
        return min(512, 16384 // resolution)

    def channels(self, resolution: int) -> int:
        """The width at ``resolution``: the official one scaled and capped (see the class)."""
        base = self.base_channels(resolution)
        return max(1, min(self.channel_max, round(base * self.channel_multiplier)))

    @property
    def is_official_width(self) -> bool:
        default = LIAConfig()
        return (
            self.latent_dim == default.latent_dim
            and all(self.channels(r) == default.channels(r) for r in [4, *self.resolutions])
            and self.motion_layers == default.motion_layers
            and self.motion_dictionary
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LIAConfig:
        if not isinstance(data, dict):
            raise TypeError(f"a LIAConfig is a mapping of its fields, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown LIAConfig field(s): {', '.join(unknown)}")
        return cls(**data)
