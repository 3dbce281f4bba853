"""The renderer: one identity at one size, frame by frame (:class:`FaceRenderer`), its static
background, and the one-shot functions :func:`render_face`, :func:`iter_frames` and
:func:`render_video`.

Parts are drawn back to front with Pillow polygons on a canvas ``supersample`` times the frame
size, then box-filtered down, so edges are anti-aliased.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np
from PIL import Image, ImageDraw

from .factors import full_factors
from .features import FeatureParts
from .geometry import Pose, circle
from .head import HeadParts
from .identity import PUPIL, RGB, SCLERA, TEETH, Identity, mix, shade


def default_supersample(size: int) -> int:
    """The canvas oversampling factor for a frame ``size``: 4 up to 64 px, 2 from 128 px."""
    return max(2, min(4, 256 // max(size, 1)))


class FaceRenderer(HeadParts, FeatureParts):
    """Draws one identity at one size; reuses the background across frames.

    ``render(factors)`` returns a PIL image (``size`` x ``size``, RGB); missing factors are
    neutral. ``supersample`` is the canvas oversampling factor (default 4 at 64 px, 2 at 128+).
    """

    def __init__(self, identity: Identity, size: int, supersample: int | None = None) -> None:
        if size < 8:
            raise ValueError(f"size must be >= 8 pixels, got {size}")
        self.who = identity
        self.size = int(size)
        self.ss = int(supersample or default_supersample(size))
        self.W = self.size * self.ss
        self._bg = _background(identity, self.W)
        w = identity
        self._face_dark = shade(w.skin, 0.86)
        self._skin_light = shade(w.skin, 1.05)
        self._neck = shade(w.skin, 0.8)
        self._ear_in = shade(w.skin, 0.78)
        self._nostril = shade(w.skin, 0.45)
        self._blush = mix(w.skin, (230, 90, 100), 0.25)
        self._lash = shade(w.brow_color, 0.6)
        self._mouth_in = mix(shade(w.lips, 0.35), (60, 10, 20), 0.5)
        self._lip_line = shade(w.lips, 0.6)
        self._beard = w.hair if w.beard == "full" else mix(w.skin, w.hair, 0.28)
        self._hair_dark = shade(w.hair, 0.8)

    @property
    def palette(self) -> dict[str, RGB]:
        """The flat colours of the main parts (interiors of regions are exactly these)."""
        w = self.who
        return {
            "skin": w.skin,
            "skin_lit": self._skin_light,
            "shade": self._face_dark,
            "neck": self._neck,
            "ear": self._ear_in,
            "sclera": SCLERA,
            "iris": w.iris,
            "pupil": PUPIL,
            "lash": self._lash,
            "brow": w.brow_color,
            "lips": w.lips,
            "lip_line": self._lip_line,
            "mouth": self._mouth_in,
            "teeth": TEETH,
            "hair": w.hair,
            "nostril": self._nostril,
            "clothes": w.clothes,
        }

    def render(self, factors: Mapping[str, float]) -> Image.Image:
        f = full_factors(factors)
        who = self.who
        pose = Pose(who, f)
        img = self._bg.copy()
        d = ImageDraw.Draw(img)
        a, b = who.face_w, who.face_h
        jaw_drop = 0.045 * b * max(0.0, f["mouth_open"])

        self._hair_back(d, pose)
        self._body(d, pose)
        self._ears(d, pose, f)
        face = self._face_outline(pose, jaw_drop)
        self._poly(d, face, who.skin)
        # soft cel shading: a lighter inner face toward the light (upper left)
        hl = self._face_outline_pts(jaw_drop) * 0.86 + np.array([-0.09 * a, -0.11 * b])
        self._poly(d, pose.outline(hl, self._chin_front(hl)), self._skin_light)
        if who.beard != "none":
            self._beard_poly(d, pose, jaw_drop)
        if who.blush:
            for s in (-1, 1):
                p = circle(
                    16, s * who.eye_x * 1.05, who.nose_y * 0.85, who.eye_w * 0.8, who.eye_w * 0.45
                )
                self._poly(d, pose.surface(p), self._blush)
        self._nose(d, pose)
        for s in (-1, 1):
            self._eye(d, pose, f, s)
            self._brow(d, pose, f, s)
        self._mouth(d, pose, f)
        if who.moustache:
            self._moustache(d, pose, f)
        if who.hair_style != "bald":
            self._hair_front(d, pose)
        if who.glasses != "none":
            self._glasses(d, pose)
        if who.hat != "none":
            self._hat(d, pose)
        return img.reduce(self.ss) if self.ss > 1 else img

    def render_array(self, factors: Mapping[str, float]) -> np.ndarray:
        return np.asarray(self.render(factors))


def _background(who: Identity, W: int) -> Image.Image:
    """The static backdrop of one identity at canvas resolution ``W``."""
    rng = np.random.default_rng(who.bg_seed)
    c1 = np.array(who.bg_colors[0], dtype=np.float32)
    c2 = np.array(who.bg_colors[1], dtype=np.float32)
    yy, xx = np.mgrid[0:W, 0:W].astype(np.float32) / W
    style = who.background
    if style == "flat":
        t = np.zeros((W, W), np.float32)
    elif style == "gradient":
        ang = rng.uniform(0, 2 * np.pi)
        t = np.clip(0.5 + (xx - 0.5) * math.cos(ang) + (yy - 0.5) * math.sin(ang), 0, 1)
    elif style == "radial":
        t = np.clip(np.hypot(xx - rng.uniform(0.3, 0.7), yy - rng.uniform(0.2, 0.5)) * 1.4, 0, 1)
    elif style == "blotches":
        g = rng.uniform(0, 1, size=(5, 5)).astype(np.float32)
        small = Image.fromarray((g * 255).astype(np.uint8), "L").resize((W, W), Image.BICUBIC)
        t = np.asarray(small, dtype=np.float32) / 255
    elif style == "stripes":
        period = rng.uniform(0.06, 0.16)
        t = (0.5 + 0.5 * np.sin(2 * np.pi * xx / period + rng.uniform(0, 6))) ** 2
    else:  # bokeh: soft discs of light
        t = np.zeros((W, W), np.float32)
        for _ in range(10):
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 0.8), rng.uniform(0.04, 0.12)
            t = np.maximum(
                t, np.clip(1.2 - np.hypot(xx - cx, yy - cy) / r, 0, 1) * rng.uniform(0.4, 1)
            )
    img = c1 * (1 - t[..., None]) + c2 * t[..., None]
    return Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8), "RGB")


# ---- public one-shot API ------------------------------------------------------------------------


def render_face(
    identity: Identity, factors: Mapping[str, float], size: int = 64, supersample: int | None = None
) -> np.ndarray:
    """One frame: ``(size, size, 3)`` uint8. Missing factors take their neutral value."""
    return FaceRenderer(identity, size, supersample).render_array(factors)


def iter_frames(
    identity: Identity,
    trajectory: Mapping[str, np.ndarray],
    size: int = 64,
    supersample: int | None = None,
) -> Iterator[np.ndarray]:
    """The frames of a trajectory one at a time, ``(size, size, 3)`` uint8 each."""
    r = FaceRenderer(identity, size, supersample)
    lengths = {len(np.asarray(v)) for v in trajectory.values()}
    if len(lengths) != 1:
        raise ValueError(f"trajectory factors have different lengths: {sorted(lengths)}")
    (n,) = lengths
    for i in range(n):
        yield r.render_array({k: float(v[i]) for k, v in trajectory.items()})


def render_video(
    identity: Identity,
    trajectory: Mapping[str, np.ndarray],
    size: int = 64,
    supersample: int | None = None,
) -> np.ndarray:
    """All frames of a trajectory in memory: ``(T, size, size, 3)`` uint8."""
    return np.stack(list(iter_frames(identity, trajectory, size, supersample)))
