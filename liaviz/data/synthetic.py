"""Procedural talking faces with ground-truth motion.

Cartoon portraits framed like VoxCeleb crops (face filling the frame, shoulders at the bottom),
drawn with Pillow polygons on a supersampled canvas and box-filtered down, so edges are
anti-aliased. Each *identity* fixes the appearance (face shape, skin, hair, eyes, lips, clothes,
background, accessories); each *frame* is fixed by the motion factors in :data:`FACTORS`. Head
rotation is approximated in 2D: features are painted on an ellipsoid and projected
orthographically after yaw and pitch (so they shift and foreshorten), then the whole head is
rolled, scaled and translated in the image plane.

    rng = np.random.default_rng(0)
    who = Identity.sample(rng)
    img = render_face(who, {"yaw": 20, "mouth_open": 0.8}, size=64)   # (64, 64, 3) uint8
    traj = sample_trajectory(rng, 64)                                 # {factor: (64,) float}
    video = render_video(who, traj, size=64)                          # (64, 64, 64, 3) uint8
    write_dataset("faces", n_videos=400, n_frames=64, size=64, seed=0)

Everything is a pure function of its seeds: the same call gives the same bytes.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import multiprocessing
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..errors import UserError

RGB = tuple[int, int, int]

SPLITS = ("train", "test")
MANIFEST = "synth.json"  # written first with "complete": false, rewritten when done
INCOMPLETE = ".incomplete"  # videos are written here and renamed into place when complete
FORMAT_VERSION = 2  # 2: tight VoxCeleb-like framing, larger features, expression events
# How much the portrait is zoomed about the head centre: at 1.35 the face fills most of the frame
# (forehead to chin, cheek to cheek), as in VoxCeleb crops, and eyes, brows and mouth are several
# pixels tall even at 64 px. Head-local lengths stay as sampled; the pose applies this zoom.
FRAMING = 1.35


class SynthError(UserError):
    """Bad arguments to the synthetic dataset writer, or an output folder it must not touch."""


# ---- motion factors -----------------------------------------------------------------------------


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
_FACTOR = {f.name: f for f in FACTORS}


def neutral_factors() -> dict[str, float]:
    """Every factor at its neutral value (a frontal, still face)."""
    return {f.name: f.neutral for f in FACTORS}


def _full_factors(factors: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(factors) - set(FACTOR_NAMES))
    if unknown:
        raise ValueError(f"unknown factor(s) {unknown}; known: {', '.join(FACTOR_NAMES)}")
    out = neutral_factors()
    out.update({k: float(v) for k, v in factors.items()})
    return out


# ---- identities ---------------------------------------------------------------------------------

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


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _shade(c: RGB, f: float) -> RGB:
    """Darker (f < 1) or lighter (f > 1, toward white) version of a colour."""
    if f <= 1.0:
        return tuple(int(round(x * f)) for x in c)  # type: ignore[return-value]
    return _mix(c, (255, 255, 255), f - 1.0)


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
        lip_base = _mix(skin, (196, 72, 84), u(0.35, 0.6))
        if rng.random() < 0.15:  # lipstick
            lip_base = _jitter(
                rng, ((178, 30, 60), (200, 70, 90), (120, 30, 50))[int(rng.integers(3))], 12
            )
        dark_hair = _shade(hair, 0.7) if sum(hair) > 300 else hair
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


def identity_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """The seed of video ``index`` of ``split``. Split and index go into the spawn key, so no two
    (split, index) pairs share a stream: train and test identities cannot collide."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return np.random.SeedSequence(int(seed), spawn_key=(SPLITS.index(split), int(index)))


def video_spec(
    seed: int, split: str, index: int, n_frames: int
) -> tuple[Identity, dict[str, np.ndarray]]:
    """The identity and trajectory of one dataset video (independent streams for each)."""
    ident_ss, motion_ss = identity_seed(seed, split, index).spawn(2)
    ident = Identity.sample(np.random.default_rng(ident_ss))
    return ident, sample_trajectory(np.random.default_rng(motion_ss), n_frames)


# ---- trajectories -------------------------------------------------------------------------------


def sample_trajectory(rng: np.random.Generator, n_frames: int) -> dict[str, np.ndarray]:
    """Smooth random motion: ``{factor: (n_frames,) float64}``, each within its range.

    Head pose (yaw, pitch, roll, tx, ty, scale) drifts: tanh-squashed sums of three sinusoids with
    per-video offset and amplitude. Expressions change often and on their own clock, as in a
    talking face: smile, brows and gaze hold a value for a few frames, then ease to a new one
    drawn over the whole range (often back to neutral; gaze in quick saccades); blinks are short
    full closures every ~10 frames on top of a slow squint; the mouth opens and closes at
    syllable rate with random depth. Each factor has its own generator, so expressions are
    independent of the pose and of each other. Frequencies and events are per frame and drawn in
    order, so a longer video extends a shorter one. Values are rounded to 6 decimals, the
    precision ``factors.csv`` stores, so re-rendering from the file gives the same frames.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    # one child generator per factor, drawn up front: each factor's stream is independent of
    # n_frames and of the other factors
    gens = [np.random.default_rng(s) for s in rng.integers(0, 2**63, size=len(FACTORS))]
    t = np.arange(n_frames, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    for f, g in zip(FACTORS, gens, strict=True):
        if f.name == "blink":
            v = _blink_track(g, t)
        elif f.name == "mouth_open":
            v = _hold_track(g, n_frames, f, move=(2, 4), hold=(0, 3), p_neutral=0.4)
        elif f.name in ("smile", "brow_raise"):
            v = _hold_track(g, n_frames, f, move=(7, 11), hold=(3, 12), p_neutral=0.3)
        elif f.name in ("gaze_x", "gaze_y"):
            v = _hold_track(g, n_frames, f, move=(2, 3), hold=(3, 12), p_neutral=0.3)
        else:
            wave = _sines(g, t, (1 / 100, 1 / 36))
            # tanh, not clipping: the extremes are reached smoothly, with no flat plateaus
            u = np.tanh(g.uniform(-0.5, 0.5) + g.uniform(0.5, 1.1) * wave)
            v = f.low + (u + 1.0) * 0.5 * (f.high - f.low)
        out[f.name] = np.round(v, 6)
    return out


def _sines(
    g: np.random.Generator, t: np.ndarray, freq: tuple[float, float], k: int = 3
) -> np.ndarray:
    """Sum of ``k`` sinusoids, scaled to unit RMS."""
    fr = g.uniform(*freq, size=k)
    ph = g.uniform(0, 2 * np.pi, size=k)
    w = g.uniform(0.4, 1.0, size=k)
    wave = (w[:, None] * np.sin(2 * np.pi * fr[:, None] * t[None] + ph[:, None])).sum(0)
    return wave / math.sqrt(float((w**2).sum()) / 2)


def _hold_track(
    g: np.random.Generator,
    n: int,
    f: Factor,
    move: tuple[int, int],
    hold: tuple[int, int],
    p_neutral: float,
) -> np.ndarray:
    """Hold a value for ``hold`` frames, ease (half a cosine) to a new one over ``move`` frames,
    repeat. A new value is the neutral one with probability ``p_neutral``, else uniform over the
    factor's range; the first is drawn the same way."""

    def target() -> float:
        return f.neutral if g.random() < p_neutral else float(g.uniform(f.low, f.high))

    values: list[float] = []
    current = target()
    while len(values) < n:
        values.extend([current] * int(g.integers(hold[0], hold[1] + 1)))
        nxt = target()
        steps = int(g.integers(move[0], move[1] + 1))
        ease = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, steps + 1) / steps)
        values.extend((current + (nxt - current) * ease).tolist())
        current = nxt
    return np.clip(np.array(values[:n]), f.low, f.high)


def _blink_track(g: np.random.Generator, t: np.ndarray) -> np.ndarray:
    squint = np.clip(g.uniform(-0.2, 0.25) + 0.15 * _sines(g, t, (1 / 80, 1 / 30)), 0.0, 0.4)
    v = squint.copy()
    start = g.exponential(8.0) - 4.0
    while start < len(t):
        dur = g.uniform(3.0, 7.0)
        bump = np.sin(np.clip((t - start) / dur, 0.0, 1.0) * np.pi)
        v = np.maximum(v, np.minimum(1.0, 1.15 * bump))
        start += dur + g.exponential(8.0) + 2.0
    return np.clip(v, 0.0, 1.0)


# ---- geometry -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _lin(start: float, stop: float, n: int, endpoint: bool = True) -> np.ndarray:
    """Cached read-only ``np.linspace`` (the renderer asks for the same grids every frame)."""
    out = np.linspace(start, stop, n, endpoint=endpoint)
    out.flags.writeable = False
    return out


@functools.cache
def _unit_circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    a = _lin(0.0, 2 * np.pi, n, False)
    c, s = np.cos(a), np.sin(a)
    c.flags.writeable = False
    s.flags.writeable = False
    return c, s


def _xy(x: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    """Columns -> (N, 2) points (cheaper than ``np.stack`` for the renderer's small arrays)."""
    out = np.empty((len(x), 2))
    out[:, 0] = x
    out[:, 1] = y
    return out


def _circle(n: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    c, s = _unit_circle(n)
    return _xy(cx + rx * c, cy + ry * s)


class _Pose:
    """Maps head-local points (x right, y down, z toward the camera; frame units) to the frame."""

    def __init__(self, who: Identity, f: Mapping[str, float]) -> None:
        self.a, self.b, self.c = who.face_w, who.face_h, who.depth
        self._ia2, self._ib2 = 1.0 / self.a**2, 1.0 / self.b**2
        yaw, pitch, roll = (math.radians(f[k]) for k in ("yaw", "pitch", "roll"))
        self.cy, self.sy = math.cos(yaw), math.sin(yaw)
        self.cp, self.sp = math.cos(pitch), math.sin(pitch)
        s = f["scale"] * FRAMING
        self.s = s
        self._m = (s * math.cos(roll), s * math.sin(roll))  # roll and scale in one 2x2
        self.ox = 0.5 + who.center_x + f["tx"]
        self.oy = 0.5 + who.center_y + f["ty"]
        # silhouette of the ellipsoid after yaw/pitch: its half-axes shrink toward the depth
        self.kx = math.sqrt(self.cy**2 + (self.c / self.a) ** 2 * self.sy**2)
        self.ky = math.sqrt(self.cp**2 + (self.c / self.b) ** 2 * self.sp**2)

    def depth_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height of the face surface above the head's mid-plane (a flattened ellipsoid)."""
        q = 1.0 - x * x * self._ia2 - y * y * self._ib2
        np.maximum(q, 0.0, out=q)
        return self.c * q**0.4

    def _finish(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        mc, ms = self._m
        out = np.empty(np.shape(x) + (2,))
        out[..., 0] = self.ox + mc * x - ms * y
        out[..., 1] = self.oy + ms * x + mc * y
        return out

    def rotate(self, p: np.ndarray, z: np.ndarray | float) -> np.ndarray:
        x, y = p[..., 0], p[..., 1]
        x1 = x * self.cy + z * self.sy
        z1 = z * self.cy - x * self.sy
        y2 = y * self.cp - z1 * self.sp
        return self._finish(x1, y2)

    def surface(self, p: np.ndarray, dz: np.ndarray | float = 0.0) -> np.ndarray:
        """Points painted on the face (plus ``dz`` above it, e.g. the nose) -> frame coords."""
        return self.rotate(p, self.depth_at(p[..., 0], p[..., 1]) + dz)

    def outline(self, p: np.ndarray, front: np.ndarray | float = 0.0) -> np.ndarray:
        """Silhouette points (the head's rim) -> frame coords. They shrink with the ellipsoid's
        outline instead of sliding; ``front`` (the chin's forward depth) lets them slide too."""
        x = p[..., 0] * self.kx + front * self.sy
        y = p[..., 1] * self.ky - front * (self.cy * self.sp)
        return self._finish(x, y)

    def body(self, p: np.ndarray) -> np.ndarray:
        """Torso points: translated and scaled with the head, not rotated."""
        out = np.empty(p.shape)
        out[..., 0] = self.ox + self.s * p[..., 0]
        out[..., 1] = self.oy + self.s * p[..., 1]
        return out


# ---- rendering ----------------------------------------------------------------------------------


def _default_supersample(size: int) -> int:
    return max(2, min(4, 256 // max(size, 1)))


class FaceRenderer:
    """Draws one identity at one size; reuses the background across frames.

    ``render(factors)`` returns a PIL image (``size`` x ``size``, RGB); missing factors are
    neutral. ``supersample`` is the canvas oversampling factor (default 4 at 64 px, 2 at 128+).
    """

    def __init__(self, identity: Identity, size: int, supersample: int | None = None) -> None:
        if size < 8:
            raise ValueError(f"size must be >= 8 pixels, got {size}")
        self.who = identity
        self.size = int(size)
        self.ss = int(supersample or _default_supersample(size))
        self.W = self.size * self.ss
        self._bg = _background(identity, self.W)
        w = identity
        self._face_dark = _shade(w.skin, 0.86)
        self._skin_light = _shade(w.skin, 1.05)
        self._neck = _shade(w.skin, 0.8)
        self._ear_in = _shade(w.skin, 0.78)
        self._nostril = _shade(w.skin, 0.45)
        self._blush = _mix(w.skin, (230, 90, 100), 0.25)
        self._lash = _shade(w.brow_color, 0.6)
        self._mouth_in = _mix(_shade(w.lips, 0.35), (60, 10, 20), 0.5)
        self._lip_line = _shade(w.lips, 0.6)
        self._beard = w.hair if w.beard == "full" else _mix(w.skin, w.hair, 0.28)
        self._hair_dark = _shade(w.hair, 0.8)

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

    # -- drawing helpers (points in frame units) --
    def _poly(self, d: ImageDraw.ImageDraw, pts: np.ndarray, fill: RGB) -> None:
        if len(pts) >= 3:
            d.polygon((pts * self.W).ravel().tolist(), fill=fill)

    def _line(self, d: ImageDraw.ImageDraw, pts: np.ndarray, fill: RGB, width: float) -> None:
        w = max(1, int(round(width * FRAMING * self.W)))
        d.line((pts * self.W).ravel().tolist(), fill=fill, width=w, joint="curve")

    def render(self, factors: Mapping[str, float]) -> Image.Image:
        f = _full_factors(factors)
        who = self.who
        pose = _Pose(who, f)
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
                p = _circle(
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

    # -- parts --
    def _face_outline_pts(self, jaw_drop: float, n: int = 56) -> np.ndarray:
        return self._face_outline_at(_lin(0, 2 * np.pi, n, endpoint=False), jaw_drop)

    def _face_outline_at(self, t: np.ndarray, jaw_drop: float) -> np.ndarray:
        """Face rim at angles ``t`` (0 right, pi/2 chin): an ellipse on top, a superellipse
        tapering to the chin below; the jaw drops with the mouth."""
        who = self.who
        c, s = np.cos(t), np.sin(t)
        lower = s > 0
        e = 2.0 / who.jaw
        u = np.where(lower, np.sign(c) * np.abs(c) ** e, c)
        v = np.where(lower, np.abs(s) ** e, s)
        u = u * (1.0 - who.chin * np.clip(v, 0, 1) ** 2)
        y = v * who.face_h + jaw_drop * np.clip((v - 0.3) / 0.5, 0, 1)
        return _xy(u * who.face_w, y)

    def _chin_front(self, p: np.ndarray) -> np.ndarray:
        v = np.clip(p[:, 1] / self.who.face_h, 0.0, 1.2)
        return 0.55 * self.who.depth * v**2

    def _face_outline(self, pose: _Pose, jaw_drop: float) -> np.ndarray:
        p = self._face_outline_pts(jaw_drop)
        return pose.outline(p, self._chin_front(p))

    def _hair_outer(self, t: np.ndarray, volume: float, bump: float = 0.0) -> np.ndarray:
        """Points of the hair's outer edge at rim angles ``t`` (0 = right, pi/2 = top)."""
        who = self.who
        c, s = np.cos(t), np.sin(t)
        top = np.clip(s, 0, 1)
        r = 1.0 + volume * (0.35 + 0.65 * top)
        if bump:
            r = r + bump * np.abs(np.sin(t * 9.0 + who.bg_seed % 7))  # curls, phase per person
        return _xy(c * r * who.face_w * 1.02, -s * r * who.face_h)

    def _hair_back(self, d: ImageDraw.ImageDraw, pose: _Pose) -> None:
        who = self.who
        style = who.hair_style
        if style in ("bald", "short", "crop"):
            return
        a, b = who.face_w, who.face_h
        if style == "afro":
            t = _lin(0, 2 * np.pi, 72, endpoint=False)
            p = self._hair_outer(t, who.hair_volume, bump=0.06)
            p[:, 1] = np.where(p[:, 1] > 0, p[:, 1] * 0.55, p[:, 1]) - 0.05 * b
            p[:, 0] *= 1.12
            self._poly(d, pose.outline(p), who.hair)
            return
        t = _lin(-0.1, np.pi + 0.1, 40)
        top = self._hair_outer(t, who.hair_volume)
        L = who.hair_length * b
        wid = a * (1.12 if style == "long" else 1.06) * (1 + who.hair_volume)
        xs = wid * _lin(1.0, -1.0, 9)
        bottom = _xy(xs, L - 0.08 * b * np.cos(xs / wid * np.pi / 2))
        p = np.concatenate([[[wid, L]], top, [[-wid, L]], bottom[1:-1]])
        # the hanging ends follow the shoulders more than the head, so a tilt bends the hair
        # instead of swinging it out like a board
        w = 0.6 * np.clip(p[:, 1:] / L, 0.0, 1.0)
        self._poly(d, pose.outline(p) * (1 - w) + pose.body(p) * w, self._hair_dark)

    def _body(self, d: ImageDraw.ImageDraw, pose: _Pose) -> None:
        who = self.who
        base = (0.5 - who.center_y) / FRAMING  # frame bottom in head coordinates, at rest
        nk = who.face_w * 0.42
        neck_top_y = who.face_h * 0.55
        # neck: top follows the head, bottom follows the body
        top = pose.outline(np.array([[-nk, neck_top_y], [nk, neck_top_y]]))
        bot = pose.body(np.array([[nk * 1.12, base - 0.12], [-nk * 1.12, base - 0.12]]))
        self._poly(d, np.concatenate([top, bot]), self._neck)
        # shoulders
        x = _lin(-1, 1, 25)
        sh = np.abs(x) ** 1.6
        y = base - 0.145 + 0.11 * sh - 0.02 * (1 - sh)
        pts = _xy(x * 0.56, y)
        pts = np.concatenate([[[-0.7, base + 0.2]], pts, [[0.7, base + 0.2]]])
        cloth = pose.body(pts)
        self._poly(d, cloth, who.clothes)
        ny = base - 0.16
        if who.collar == "vneck":
            v = np.array([[-nk * 1.25, ny], [0.0, base - 0.04], [nk * 1.25, ny]])
            self._poly(d, pose.body(v), self._neck)
        elif who.collar == "shirt":
            for s in (-1, 1):
                v = np.array(
                    [[0.0, base - 0.05], [s * nk * 1.3, ny - 0.01], [s * nk * 1.9, base - 0.06]]
                )
                self._poly(d, pose.body(v), who.collar_color)
        else:
            v = np.array([[-nk * 1.25, ny + 0.003], [0.0, ny + 0.04], [nk * 1.25, ny + 0.003]])
            self._line(d, pose.body(v), _shade(who.clothes, 0.7), 0.012)

    def _ears(self, d: ImageDraw.ImageDraw, pose: _Pose, f: Mapping[str, float]) -> None:
        who = self.who
        turn = pose.sy / math.sin(math.radians(30))
        for s in (-1, 1):
            # an ear slides behind the head when it turns away
            away = max(0.0, s * turn)
            cx = s * who.face_w * (1.0 + 0.1 - 0.55 * away * who.ear_w / who.face_w * 2.5)
            p = _circle(20, cx, who.ear_y, who.ear_w, who.ear_h)
            q = _circle(14, cx - s * 0.15 * who.ear_w, who.ear_y, who.ear_w * 0.5, who.ear_h * 0.6)
            self._poly(d, pose.outline(p), who.skin)
            self._poly(d, pose.outline(q), self._ear_in)
            if who.earrings:
                e = _circle(
                    12, cx, who.ear_y + who.ear_h * 1.05, who.ear_w * 0.32, who.ear_w * 0.32
                )
                self._poly(d, pose.outline(e), who.earring_color)

    def _beard_poly(self, d: ImageDraw.ImageDraw, pose: _Pose, jaw_drop: float) -> None:
        who = self.who
        a, b = who.face_w, who.face_h
        outer = self._face_outline_at(_lin(-0.06, np.pi + 0.06, 40), jaw_drop)  # right to left
        lip_top = who.nose_y + 0.4 * (who.mouth_y - who.nose_y)
        mw = who.mouth_w
        right = np.array(
            [
                [0.97 * a, -0.04 * b],
                [0.86 * a, 0.2 * b],
                [max(0.62 * a, mw * 1.5), who.mouth_y - 0.02 * b],
                [mw * 1.12, who.mouth_y - 0.03 * b],
                [mw * 0.6, lip_top],
                [0.0, lip_top + 0.012 * b],
            ]
        )
        inner = np.concatenate([right * np.array([-1.0, 1.0]), right[::-1][1:]])  # left to right
        self._poly(
            d,
            np.concatenate([pose.outline(outer, self._chin_front(outer)), pose.surface(inner)]),
            self._beard,
        )

    def _nose(self, d: ImageDraw.ImageDraw, pose: _Pose) -> None:
        who = self.who
        nl, nw, ny = who.nose_len, who.nose_w, who.nose_y
        # shadow down the right side of the bridge (light from the upper left)
        t = _lin(0, 1, 8)
        side = _xy(0.25 * nw + 0.35 * nw * t**2, who.eye_y + 0.3 * who.eye_w + (ny - who.eye_y) * t)
        ridge = _xy(0.05 * nw + 0.05 * nw * t, who.eye_y + 0.4 * who.eye_w + (ny - who.eye_y) * t)
        dz_side = nl * (0.15 + 0.6 * t)
        dz_ridge = nl * (0.3 + 0.7 * t)
        self._poly(
            d,
            np.concatenate(
                [pose.surface(ridge, dz_ridge), pose.surface(side[::-1], dz_side[::-1])]
            ),
            self._face_dark,
        )
        # the nose's underside and nostrils
        base = _circle(16, 0.0, ny, nw * 0.62, nw * 0.28)
        base = base[base[:, 1] >= ny - 1e-9]
        self._line(d, pose.surface(base, nl * 0.8), self._face_dark, 0.008)
        for s in (-1, 1):
            n = _circle(10, s * nw * 0.3, ny + nw * 0.12, nw * 0.16, nw * 0.09)
            self._poly(d, pose.surface(n, nl * 0.75), self._nostril)

    def _eye(self, d: ImageDraw.ImageDraw, pose: _Pose, f: Mapping[str, float], s: int) -> None:
        who = self.who
        ew, ex, ey = who.eye_w, s * who.eye_x, who.eye_y
        hu, hl = who.eye_up * ew, who.eye_low * ew
        blink = min(1.0, max(0.0, f["blink"]))

        def lids(xl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            t = np.minimum(np.maximum(xl / ew, -1.0), 1.0)  # -1 inner corner, +1 outer corner
            k = 1.0 - t * t
            tilt = -who.eye_tilt * hu * t
            low = hl * k**0.9 + tilt
            up_open = -hu * k**0.7 + tilt
            return up_open * (1.0 - blink) + low * blink, low

        def to_head(xl: np.ndarray, yl: np.ndarray) -> np.ndarray:
            return _xy(ex + s * xl, ey + yl)

        xl = ew * _lin(-1.0, 1.0, 17)
        up, low = lids(xl)
        if blink < 0.995:
            opening = np.concatenate([to_head(xl, up), to_head(xl[::-1], low[::-1])])
            self._poly(d, pose.surface(opening), SCLERA)
            # iris, pupil and catchlight, clipped to the opening column by column
            ri = who.iris_r * ew
            icx = s * f["gaze_x"] * ew * 0.6  # gaze is in image terms: same shift for both eyes
            icy = f["gaze_y"] * hu * 0.5
            for cx, cy, r, col in (
                (icx, icy, ri, who.iris),
                (icx, icy, ri * 0.55, PUPIL),
                (icx - s * ri * 0.35, icy - ri * 0.35, ri * 0.2, (255, 255, 255)),
            ):
                poly = self._clipped_circle(cx, cy, r, lids, ew)
                if poly is not None:
                    self._poly(d, pose.surface(to_head(poly[:, 0], poly[:, 1])), col)
        # upper lash line, always drawn: a closed eye is just this line
        lash = to_head(
            np.concatenate([xl, [ew * 1.12]]), np.concatenate([up, [up[-1] - 0.12 * hu]])
        )
        self._line(d, pose.surface(lash), self._lash, 0.009)

    @staticmethod
    def _clipped_circle(cx, cy, r, lids, ew, n: int = 14) -> np.ndarray | None:
        x0, x1 = max(cx - r, -ew), min(cx + r, ew)
        if x1 <= x0:
            return None
        xs = x0 + (x1 - x0) * _lin(0.0, 1.0, n)
        h = np.sqrt(np.maximum(r * r - (xs - cx) ** 2, 0.0))
        up, low = lids(xs)
        top = np.maximum(cy - h, up)
        bot = np.minimum(cy + h, low)
        ok = top < bot
        if ok.sum() < 2:
            return None
        xs, top, bot = xs[ok], top[ok], bot[ok]
        return np.concatenate([_xy(xs, top), _xy(xs[::-1], bot[::-1])])

    def _brow(self, d: ImageDraw.ImageDraw, pose: _Pose, f: Mapping[str, float], s: int) -> None:
        who = self.who
        ew = who.eye_w
        raise_ = f["brow_raise"]
        t = _lin(-1.0, 1.0, 11)  # inner -> outer
        x = s * (who.eye_x + t * ew * who.brow_len) - s * 0.1 * ew
        y0 = who.eye_y - who.eye_up * ew - who.brow_gap * ew * 0.6
        arch = who.brow_arch * ew * (1.0 + 0.8 * max(raise_, 0.0))
        y = y0 - arch * (1 - ((t - 0.15) / 1.15) ** 2)
        y = y - 0.9 * ew * raise_  # whole brow up (down when knitted)
        y = y + 0.3 * ew * max(-raise_, 0.0) * np.clip(-t, 0, 1)  # knitted: inner ends drop more
        th = who.brow_thick * ew * (1.0 - 0.45 * np.clip(t, 0, 1))
        p = np.concatenate([_xy(x, y - th / 2), _xy(x[::-1], (y + th / 2)[::-1])])
        self._poly(d, pose.surface(p, 0.02 * who.depth), who.brow_color)

    def _mouth_curves(self, f: Mapping[str, float]) -> tuple[np.ndarray, ...]:
        who = self.who
        smile, op = f["smile"], max(0.0, f["mouth_open"])
        t = _lin(-1.0, 1.0, 17)
        k = 1.0 - t * t
        x = t * who.mouth_w * (1.0 + 0.14 * max(smile, 0.0) - 0.06 * max(-smile, 0.0))
        mid = who.mouth_y - smile * 0.045 * t * t - 0.004 * smile
        gap = op * 0.09 * who.face_h / 0.3
        in_up = mid - 0.22 * gap * k**0.7
        in_low = mid + gap * k**0.7
        bow = 1.0 - 0.35 * np.exp(-((t / 0.18) ** 2))
        out_up = in_up - who.lip_up * k**0.45 * bow
        out_low = in_low + who.lip_low * k**0.6
        return x, mid, in_up, in_low, out_up, out_low

    def _mouth(self, d: ImageDraw.ImageDraw, pose: _Pose, f: Mapping[str, float]) -> None:
        who = self.who
        x, mid, in_up, in_low, out_up, out_low = self._mouth_curves(f)
        st = lambda xs, ys: _xy(xs, ys)  # noqa: E731
        self._poly(
            d, pose.surface(np.concatenate([st(x, out_up), st(x[::-1], out_low[::-1])])), who.lips
        )
        if f["mouth_open"] > 0.02:
            self._poly(
                d,
                pose.surface(np.concatenate([st(x, in_up), st(x[::-1], in_low[::-1])])),
                self._mouth_in,
            )
            inner = np.abs(x) < 0.8 * np.abs(x).max()
            xt = x[inner]
            top = in_up[inner]
            bot = np.minimum(top + 0.018 * who.face_h / 0.3, in_low[inner])
            self._poly(
                d,
                pose.surface(np.concatenate([st(xt, top), st(xt[::-1], bot[::-1])])),
                TEETH,
            )
        else:
            self._line(d, pose.surface(st(x, mid)), self._lip_line, 0.006)

    def _moustache(self, d: ImageDraw.ImageDraw, pose: _Pose, f: Mapping[str, float]) -> None:
        who = self.who
        x, mid, in_up, in_low, out_up, out_low = self._mouth_curves(f)
        top = np.full_like(x, who.nose_y + 0.09 * who.nose_w) + 0.02 * (x / x.max()) ** 2
        bot = np.minimum(out_up + 0.004, top + 0.03)
        top = top + 0.012 * (x / x.max()) ** 2
        p = np.concatenate([_xy(x * 1.1, top), _xy(x[::-1] * 1.1, bot[::-1])])
        self._poly(d, pose.surface(p, 0.01 * who.depth), who.hair)

    def _hair_front(self, d: ImageDraw.ImageDraw, pose: _Pose) -> None:
        who = self.who
        a, b = who.face_w, who.face_h
        side = who.hair_side
        tr = math.asin(min(1.0, max(-1.0, -side)))
        t = tr + (math.pi - 2 * tr) * _lin(0.0, 1.0, 36)
        vol = who.hair_volume * (0.45 if who.hair_style == "crop" else 1.0)
        bump = 0.05 if who.hair_style == "afro" else 0.0
        outer = pose.outline(self._hair_outer(t, vol, bump))
        # hairline: from the left temple across the forehead to the right temple; it ends where
        # the outer edge starts, so side locks taper instead of ending in a cut
        w_in = math.cos(tr)
        u = w_in * _lin(-1.0, 1.0, 25)
        hl = who.hairline if who.hair_style != "crop" else who.hairline - 0.08
        shape = np.abs(u / w_in) ** 3.0
        v = hl + (side - hl) * shape
        amt = who.fringe_amount
        if who.fringe == "swept":
            v = v + 0.2 * amt * (u / w_in) * (1 - shape)
        elif who.fringe == "part":
            v = v - 0.22 * amt * np.exp(-(((u - 0.15) / 0.22) ** 2))
        elif who.fringe == "bangs":
            v = v + (0.1 * amt + 0.03 * np.abs(np.sin(u * 14))) * (1 - shape)
        elif who.fringe == "peak":
            v = (
                v
                + 0.1 * amt * np.exp(-((u / 0.12) ** 2))
                - 0.06 * amt * np.exp(-(((np.abs(u) - 0.45) / 0.15) ** 2))
            )
        p = _xy(u * a, v * b)
        # the forehead part is painted on the face; the locks at the sides hang at the head's
        # rim, so they follow its silhouette (else a turn would sweep them across the cheek)
        inner = self._rim_blend(pose, p, u / w_in)
        self._poly(d, np.concatenate([outer, inner]), who.hair)

    def _glasses(self, d: ImageDraw.ImageDraw, pose: _Pose) -> None:
        who = self.who
        ew = who.eye_w
        n = 28
        ang = _lin(0, 2 * np.pi, n + 1)
        e = 0.35 if who.glasses == "square" else 1.0  # superellipse exponent 2/e
        c, s = np.cos(ang), np.sin(ang)
        sx = np.sign(c) * np.abs(c) ** e
        sy = np.sign(s) * np.abs(s) ** e
        dz = 0.15 * who.depth
        rims = []
        for side in (-1, 1):
            p = _xy(side * who.eye_x + sx * ew * 1.45, who.eye_y + 0.08 * ew + sy * ew * 1.1)
            rim = pose.surface(p, dz)
            rims.append(rim)
            self._line(d, rim, who.glasses_color, 0.011)
        bridge = np.array(
            [
                [-who.eye_x + ew * 1.4, who.eye_y - 0.2 * ew],
                [0, who.eye_y - 0.45 * ew],
                [who.eye_x - ew * 1.4, who.eye_y - 0.2 * ew],
            ]
        )
        self._line(d, pose.surface(bridge, dz), who.glasses_color, 0.011)

    def _hat(self, d: ImageDraw.ImageDraw, pose: _Pose) -> None:
        who = self.who
        a, b = who.face_w, who.face_h
        vol = min(who.hair_volume, 0.16) + 0.06
        v_side, v_mid = -0.2, min(who.hairline, -0.5) - 0.04
        tr = math.asin(-v_side)
        t = tr + (math.pi - 2 * tr) * _lin(0.0, 1.0, 30)
        dome = pose.outline(self._hair_outer(t, vol))
        w = math.cos(tr) * (1.0 + vol * 0.45)
        u = _lin(-1.0, 1.0, 17)
        v = v_mid + (v_side - v_mid) * u**2

        def edge(vv: np.ndarray) -> np.ndarray:
            return self._rim_blend(pose, _xy(u * w * a, vv * b), u)

        self._poly(d, np.concatenate([dome, edge(v)]), who.hat_color)
        dark = _shade(who.hat_color, 0.75)
        if who.hat == "cap":
            front = _xy(u * w * a * 0.8, (v + 0.16 * (1 - u**2)) * b)
            brim = pose.surface(front, who.depth * 0.5 * (1 - u**2))
            self._poly(d, np.concatenate([edge(v)[::-1], brim]), dark)
        else:  # beanie: a folded band
            self._poly(d, np.concatenate([edge(v - 0.16)[::-1], edge(v)]), dark)

    def _rim_blend(self, pose: _Pose, p: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Points that run from the forehead (painted on the face) out to the head's rim (on
        its silhouette), e.g. a hairline or a hat's edge."""
        w = np.abs(u)[:, None] ** 4
        return pose.surface(p) * (1 - w) + pose.outline(p) * w


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


def video_frames(
    seed: int, split: str, index: int, n_frames: int, size: int = 64
) -> tuple[np.ndarray, dict[str, np.ndarray], Identity]:
    """Dataset video ``index`` of ``split`` in memory, exactly as :func:`write_dataset` writes it:
    ``(frames (T,S,S,3) uint8, trajectory, identity)``."""
    ident, traj = video_spec(seed, split, index, n_frames)
    return render_video(ident, traj, size), traj, ident


# ---- datasets on disk ---------------------------------------------------------------------------


def video_name(split: str, index: int) -> str:
    """Folder name of dataset video ``index`` of ``split`` (unique across splits)."""
    return f"{split}-{index:05d}"


def format_factors_csv(trajectory: Mapping[str, np.ndarray]) -> str:
    """``factors.csv`` text: a ``frame`` column, then one column per factor in FACTORS order."""
    cols = [np.asarray(trajectory[name], dtype=np.float64) for name in FACTOR_NAMES]
    lines = [",".join(("frame",) + FACTOR_NAMES)]
    for i in range(len(cols[0])):
        lines.append(",".join([str(i)] + [f"{c[i]:.6f}" for c in cols]))
    return "\n".join(lines) + "\n"


def read_factors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a video's ``factors.csv`` (the file, or the video folder holding it) back into a
    trajectory ``{factor: (T,) float64}``."""
    path = Path(path)
    if path.is_dir():
        path = path / "factors.csv"
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as e:
        raise SynthError(f"{path}: cannot read factors ({e.strerror})") from e
    if not rows or rows[0][:1] != ["frame"] or set(rows[0][1:]) != set(FACTOR_NAMES):
        raise SynthError(
            f"{path}: not a factors.csv (expected columns frame, {', '.join(FACTOR_NAMES)})"
        )
    header = rows[0]
    try:
        data = np.array([[float(x) for x in r] for r in rows[1:]], dtype=np.float64).reshape(
            -1, len(header)
        )
    except ValueError as e:
        raise SynthError(f"{path}: malformed row ({e})") from e
    if not np.array_equal(data[:, 0], np.arange(len(data))):
        raise SynthError(f"{path}: frame column is not 0, 1, 2, ...")
    return {name: data[:, j] for j, name in enumerate(header) if name != "frame"}


def _save_png(img: Image.Image, path: Path) -> None:
    # fixed settings: no metadata, fixed zlib level, so the bytes are a function of the pixels
    img.save(path, format="PNG", compress_level=3)


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _write_video(job: tuple[str, str, int, int, int, int, int]) -> str:
    """Render and write one video into ``ROOT/.incomplete``, then rename it into its split."""
    root, split, index, seed, n_frames, size, ss = job
    root_p = Path(root)
    name = video_name(split, index)
    tmp = root_p / INCOMPLETE / name
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    ident, traj = video_spec(seed, split, index, n_frames)
    r = FaceRenderer(ident, size, ss)
    for i in range(n_frames):
        _save_png(r.render({k: float(v[i]) for k, v in traj.items()}), tmp / f"{i:05d}.png")
    (tmp / "factors.csv").write_text(format_factors_csv(traj))
    (tmp / "identity.json").write_text(json.dumps(ident.to_dict(), indent=1, sort_keys=True) + "\n")
    os.replace(tmp, root_p / split / name)
    return name


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SynthError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise SynthError(
                f"{out}: folder is not empty; pass --overwrite to replace the dataset there"
            )
        if not (out / MANIFEST).is_file():
            raise SynthError(
                f"{out}: not a dataset written by liaviz synth (no {MANIFEST}); "
                "refusing to overwrite it, choose an empty or new folder"
            )
        for entry in (*SPLITS, INCOMPLETE):
            if (out / entry).exists():
                shutil.rmtree(out / entry)
        (out / MANIFEST).unlink()
    out.mkdir(parents=True, exist_ok=True)


def default_workers(n_videos: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8, n_videos))


def write_dataset(
    out: str | os.PathLike,
    n_videos: int,
    n_frames: int = 64,
    size: int = 64,
    seed: int = 0,
    test_fraction: float = 0.1,
    *,
    n_test: int | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    supersample: int | None = None,
) -> dict:
    """Write a synthetic talking-face dataset in the FOMM layout::

        OUT/synth.json                              parameters; "complete": true once done
        OUT/{train,test}/<split>-<index>/00000.png  frames, lossless RGB
        OUT/{train,test}/<split>-<index>/factors.csv   frame, then one column per factor
        OUT/{train,test}/<split>-<index>/identity.json the person's appearance parameters

    Each video is a new identity; its appearance and motion derive from ``(seed, split,
    index)``, so the output is the same bytes whatever ``workers`` is, and train and test never
    share a person. Videos are written under ``OUT/.incomplete`` and renamed into place when
    complete; an interrupted run leaves ``synth.json`` with ``"complete": false``.
    ``n_test`` (default ``round(n_videos * test_fraction)``, at least 1 when that is positive
    and there are two videos or more) of the ``n_videos`` go to the test split.
    Returns the manifest.
    """
    if n_videos < 1:
        raise SynthError(f"number of videos must be >= 1, got {n_videos}")
    if n_frames < 2:
        raise SynthError(
            f"frames per video must be >= 2 (training pairs two frames), got {n_frames}"
        )
    if not 16 <= size <= 1024:
        raise SynthError(f"size must be between 16 and 1024 pixels, got {size}")
    if n_test is None:
        if not 0.0 <= test_fraction <= 1.0:
            raise SynthError(f"test fraction must be in [0, 1], got {test_fraction}")
        n_test = int(round(n_videos * test_fraction))
        if test_fraction > 0 and n_videos >= 2:
            n_test = min(max(n_test, 1), n_videos - 1)
    if not 0 <= n_test <= n_videos:
        raise SynthError(
            f"test videos must be between 0 and the number of videos ({n_videos}), got {n_test}"
        )
    if supersample is not None and not 1 <= supersample <= 8:
        raise SynthError(f"supersample must be between 1 and 8, got {supersample}")
    ss = int(supersample or _default_supersample(size))
    out_p = Path(out).expanduser()
    try:
        return _write_all(
            out_p,
            int(n_videos) - n_test,
            n_test,
            n_frames,
            size,
            seed,
            ss,
            workers,
            overwrite,
            progress,
        )
    except OSError as e:  # disk full, permissions: the user's to fix
        raise SynthError(f"{out_p}: cannot write the dataset ({e})") from e


def _write_all(
    out_p: Path,
    n_train: int,
    n_test: int,
    n_frames: int,
    size: int,
    seed: int,
    ss: int,
    workers: int | None,
    overwrite: bool,
    progress: bool,
) -> dict:
    _prepare_out(out_p, overwrite)
    counts = {"train": n_train, "test": n_test}
    manifest = {
        "kind": "liaviz synthetic talking faces",
        "format_version": FORMAT_VERSION,
        "complete": False,
        "seed": int(seed),
        "size": int(size),
        "supersample": ss,
        "frames_per_video": int(n_frames),
        "videos": counts,
        "factors": [asdict(f) for f in FACTORS],
    }
    _write_json(out_p / MANIFEST, manifest)
    for split in SPLITS:
        (out_p / split).mkdir()
    jobs = [
        (str(out_p), split, i, int(seed), int(n_frames), int(size), ss)
        for split in SPLITS
        for i in range(counts[split])
    ]
    n_workers = max(1, min(workers or default_workers(len(jobs)), len(jobs)))
    from tqdm.auto import tqdm

    with tqdm(total=len(jobs), unit="video", desc="synth", disable=not progress) as bar:
        if n_workers == 1:
            for job in jobs:
                _write_video(job)
                bar.update(1)
        else:
            # fork on Linux: workers start at once and callers need no __main__ guard; the
            # workers run only numpy and Pillow, never torch, so torch state in the parent is inert
            ctx = multiprocessing.get_context(
                "fork" if sys.platform.startswith("linux") else "spawn"
            )
            with ctx.Pool(n_workers) as pool:
                for _ in pool.imap_unordered(_write_video, jobs):
                    bar.update(1)
    shutil.rmtree(out_p / INCOMPLETE, ignore_errors=True)
    manifest["complete"] = True
    _write_json(out_p / MANIFEST, manifest)
    return manifest


def read_manifest(root: str | os.PathLike) -> dict:
    """The ``synth.json`` of a dataset written by :func:`write_dataset`; raises
    :class:`SynthError` when it is missing or the run that wrote it did not finish."""
    path = Path(root).expanduser() / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise SynthError(f"{path.parent}: not a liaviz synthetic dataset (no {MANIFEST})") from None
    except (OSError, ValueError) as e:
        raise SynthError(f"{path}: unreadable ({e})") from e
    if not manifest.get("complete"):
        raise SynthError(
            f"{path.parent}: incomplete dataset (the run that wrote it was interrupted); write it again"
        )
    return manifest
