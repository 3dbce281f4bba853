"""The appearance of one synthetic person (:class:`Identity`), sampled from a seeded generator,
and the colour arithmetic the renderer shares with it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np

RGB = tuple[int, int, int]

# How much the portrait is zoomed about the head centre: at 1.35 the face fills most of the frame
# (forehead to chin, cheek to cheek), as in VoxCeleb crops, and eyes, brows and mouth are several
# pixels tall even at 64 px. Head-local lengths stay as sampled; the pose applies this zoom.
FRAMING = 1.35


_SKIN = (
    (255, 227, 200),
    (246, 206, 178),
    (234, 186, 152),
    (222, 170, 130),
    (200, 140, 102),
    (172, 112, 80),
    (141, 89, 62),
    (110, 70, 48),
    (86, 56, 40),
)
_HAIR = (  # colour, weight
    ((28, 24, 24), 5),
    ((58, 40, 30), 5),
    ((98, 64, 40), 4),
    ((140, 66, 34), 2),
    ((206, 168, 100), 3),
    ((232, 206, 148), 1),
    ((150, 146, 142), 2),
    ((222, 220, 214), 1),
    ((60, 96, 190), 0.5),
    ((196, 74, 140), 0.5),
    ((70, 150, 90), 0.3),
)
_IRIS = ((92, 58, 34), (128, 92, 52), (72, 120, 70), (70, 120, 184), (112, 124, 136), (46, 34, 28))
_HAIR_STYLES = (("bald", 1), ("short", 5), ("crop", 3), ("bob", 3), ("long", 4), ("afro", 1.5))
_FRINGES = ("plain", "swept", "part", "bangs", "peak")
_BACKGROUNDS = ("flat", "gradient", "radial", "blotches", "stripes", "bokeh")
SCLERA: RGB = (246, 244, 238)
PUPIL: RGB = (16, 12, 12)
TEETH: RGB = (238, 236, 228)


def _pick(rng: np.random.Generator, weighted: tuple) -> object:
    w = np.array([x[1] for x in weighted], dtype=float)
    return weighted[int(rng.choice(len(weighted), p=w / w.sum()))][0]


def _jitter(rng: np.random.Generator, c: RGB, amount: float) -> RGB:
    return tuple(int(np.clip(v + rng.uniform(-amount, amount), 0, 255)) for v in c)  # type: ignore[return-value]


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def shade(c: RGB, f: float) -> RGB:
    """Darker (f < 1) or lighter (f > 1, toward white) version of a colour."""
    if f <= 1.0:
        return tuple(int(round(x * f)) for x in c)  # type: ignore[return-value]
    return mix(c, (255, 255, 255), f - 1.0)


def _random_color(
    rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]
) -> RGB:
    h, s, v = rng.uniform(0, 1), rng.uniform(*sat), rng.uniform(*val)
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))[i]
    return (int(r * 255), int(g * 255), int(b * 255))


def _rare_choice(rng: np.random.Generator, *options: tuple[float, str]) -> str:
    """One uniform draw u: the first option whose cumulative threshold exceeds u, else "none"."""
    u = rng.random()
    for threshold, value in options:
        if u < threshold:
            return value
    return "none"


@dataclass(frozen=True)
class Identity:
    """The appearance of one cartoon person. Lengths are fractions of the frame (the head's
    local frame: x right, y down, relative to the head centre); colours are RGB 0-255."""

    # head: ellipse half-width a, half-height b, depth c, lower-half superellipse exponent, taper
    face_w: float
    face_h: float
    depth: float
    jaw: float
    chin: float
    center_x: float
    center_y: float
    skin: RGB
    blush: bool
    # eyes (one side; mirrored), irises
    eye_x: float
    eye_y: float
    eye_w: float
    eye_up: float
    eye_low: float
    eye_tilt: float
    iris: RGB
    iris_r: float
    # brows
    brow_gap: float
    brow_len: float
    brow_thick: float
    brow_arch: float
    brow_color: RGB
    # nose and mouth
    nose_y: float
    nose_w: float
    nose_len: float
    mouth_y: float
    mouth_w: float
    lip_up: float
    lip_low: float
    lips: RGB
    # ears
    ear_y: float
    ear_w: float
    ear_h: float
    # hair
    hair_style: str
    hair: RGB
    hairline: float
    fringe: str
    fringe_amount: float
    hair_volume: float
    hair_side: float
    hair_length: float
    beard: str
    moustache: bool
    # clothes, background, accessories
    clothes: RGB
    collar: str
    collar_color: RGB
    background: str
    bg_colors: tuple[RGB, RGB]
    bg_seed: int
    glasses: str
    glasses_color: RGB
    earrings: bool
    earring_color: RGB
    hat: str
    hat_color: RGB

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Identity:
        """A random person; every draw comes from ``rng``, so a seeded generator repeats it."""
        u = rng.uniform
        a = u(0.205, 0.24)
        b = a * u(1.28, 1.4)
        skin = _jitter(rng, _SKIN[int(rng.integers(len(_SKIN)))], 8)
        hair = _jitter(rng, _pick(rng, _HAIR), 10)  # type: ignore[arg-type]
        style = str(_pick(rng, _HAIR_STYLES))
        eye_w = a * u(0.27, 0.31)
        lip_base = mix(skin, (196, 72, 84), u(0.35, 0.6))
        if rng.random() < 0.15:  # lipstick
            lip_base = _jitter(
                rng, ((178, 30, 60), (200, 70, 90), (120, 30, 50))[int(rng.integers(3))], 12
            )
        dark_hair = shade(hair, 0.7) if sum(hair) > 300 else hair
        fringe = _FRINGES[int(rng.integers(len(_FRINGES)))]
        bgs = _BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))]
        bg1 = _random_color(rng, (0.05, 0.55), (0.25, 0.95))
        bg2 = _random_color(rng, (0.05, 0.55), (0.25, 0.95))
        beard = _rare_choice(rng, (0.12, "full"), (0.2, "stubble"))
        glasses = _rare_choice(rng, (0.12, "round"), (0.24, "square"))
        hat = _rare_choice(rng, (0.06, "beanie"), (0.1, "cap"))
        return cls(
            face_w=a,
            face_h=b,
            depth=a * u(0.75, 0.9),
            jaw=u(2.0, 3.0),
            chin=u(0.0, 0.3),
            center_x=u(-0.02, 0.02),
            center_y=u(0.40, 0.43) - FRAMING * b,  # chin at 0.90-0.93 of the frame
            skin=skin,
            blush=bool(rng.random() < 0.25),
            eye_x=a * u(0.42, 0.48),
            eye_y=b * u(-0.12, -0.02),
            eye_w=eye_w,
            eye_up=u(0.6, 0.8),
            eye_low=u(0.3, 0.42),
            eye_tilt=u(-0.1, 0.2),
            iris=_jitter(rng, _IRIS[int(rng.integers(len(_IRIS)))], 10),
            iris_r=u(0.46, 0.52),
            brow_gap=u(0.85, 1.15),
            brow_len=u(1.0, 1.25),
            brow_thick=u(0.36, 0.5),
            brow_arch=u(0.1, 0.35),
            brow_color=_jitter(rng, dark_hair, 6),
            nose_y=b * u(0.22, 0.3),
            nose_w=a * u(0.17, 0.23),
            nose_len=a * u(0.18, 0.3),
            mouth_y=b * u(0.5, 0.58),
            mouth_w=a * u(0.36, 0.44),
            lip_up=u(0.012, 0.018),
            lip_low=u(0.015, 0.024),
            lips=lip_base,
            ear_y=b * u(0.0, 0.1),
            ear_w=a * u(0.14, 0.2),
            ear_h=b * u(0.22, 0.28),
            hair_style=style,
            hair=hair,
            hairline=u(-0.95, -0.8),  # high: raised brows stay in sight
            fringe=fringe,
            fringe_amount=u(0.3, 1.0),
            hair_volume=u(0.06, 0.16) if style != "afro" else u(0.35, 0.5),
            hair_side=u(0.1, 0.3) if style in ("bob", "long", "afro") else u(-0.35, -0.05),
            hair_length=u(0.95, 1.15) if style == "bob" else u(1.5, 2.2),
            beard=beard,
            moustache=bool(rng.random() < 0.1),
            clothes=_random_color(rng, (0.1, 0.8), (0.2, 0.9)),
            collar=("crew", "vneck", "shirt")[int(rng.integers(3))],
            collar_color=_random_color(rng, (0.0, 0.3), (0.75, 1.0)),
            background=bgs,
            bg_colors=(bg1, bg2),
            bg_seed=int(rng.integers(2**31)),
            glasses=glasses,
            glasses_color=_random_color(rng, (0.0, 0.7), (0.05, 0.6)),
            earrings=bool(rng.random() < 0.2),
            earring_color=((230, 200, 90), (210, 210, 220), (200, 60, 80))[int(rng.integers(3))],
            hat=hat,
            hat_color=_random_color(rng, (0.2, 0.8), (0.2, 0.85)),
        )

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists); :meth:`from_dict` reads it back."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: Mapping) -> Identity:
        kw = {}
        for f in fields(cls):
            v = d[f.name]
            if isinstance(v, list):
                v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
            kw[f.name] = v
        return cls(**kw)
