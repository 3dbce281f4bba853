"""The ground-truth motion factors of the synthetic faces: their names, ranges and neutral values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Factor:
    """One ground-truth motion factor: its range in sampled trajectories and its neutral value."""

    name: str
    low: float
    high: float
    neutral: float
    unit: str
    doc: str


FACTORS: tuple[Factor, ...] = (
    Factor("yaw", -30.0, 30.0, 0.0, "deg", "head turn; + turns the face toward the image's right"),
    Factor("pitch", -20.0, 20.0, 0.0, "deg", "head nod; + lifts the chin"),
    Factor("roll", -15.0, 15.0, 0.0, "deg", "head tilt in the image plane; + is clockwise"),
    Factor("tx", -0.06, 0.06, 0.0, "frame", "horizontal shift, fraction of the frame; + is right"),
    Factor("ty", -0.05, 0.05, 0.0, "frame", "vertical shift, fraction of the frame; + is down"),
    Factor("scale", 0.9, 1.1, 1.0, "x", "zoom about the head centre"),
    Factor("blink", 0.0, 1.0, 0.0, "", "eyelid closure; 1 is shut"),
    Factor("gaze_x", -1.0, 1.0, 0.0, "", "iris shift; + toward the image's right"),
    Factor("gaze_y", -1.0, 1.0, 0.0, "", "iris shift; + is down"),
    Factor("mouth_open", 0.0, 1.0, 0.0, "", "lips part and the jaw drops"),
    Factor("smile", -1.0, 1.0, 0.0, "", "mouth corners up and out; - is a frown"),
    Factor("brow_raise", -1.0, 1.0, 0.0, "", "eyebrows up and arched; - knits them down"),
)
FACTOR_NAMES: tuple[str, ...] = tuple(f.name for f in FACTORS)


def neutral_factors() -> dict[str, float]:
    """Every factor at its neutral value (a frontal, still face)."""
    return {f.name: f.neutral for f in FACTORS}


def full_factors(factors: Mapping[str, float]) -> dict[str, float]:
    """Every factor: the given ones (as floats), the others neutral; an unknown name is a
    ValueError."""
    unknown = sorted(set(factors) - set(FACTOR_NAMES))
    if unknown:
        raise ValueError(f"unknown factor(s) {unknown}; known: {', '.join(FACTOR_NAMES)}")
    out = neutral_factors()
    out.update({k: float(v) for k, v in factors.items()})
    return out
