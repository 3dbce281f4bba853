"""Geometry of the renderer: cached grids, point arrays, and the head pose that maps head-local
points (on an ellipsoid) to the frame."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
from PIL import ImageDraw

from .identity import FRAMING, RGB, Identity


@functools.lru_cache(maxsize=256)
def lin(start: float, stop: float, n: int, endpoint: bool = True) -> np.ndarray:
    """Cached read-only ``np.linspace`` (the renderer asks for the same grids every frame)."""
    out = np.linspace(start, stop, n, endpoint=endpoint)
    out.flags.writeable = False
    return out


@functools.cache
def _unit_circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    a = lin(0.0, 2 * np.pi, n, False)
    c, s = np.cos(a), np.sin(a)
    c.flags.writeable = False
    s.flags.writeable = False
    return c, s


def xy(x: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    """Columns -> (N, 2) points (cheaper than ``np.stack`` for the renderer's small arrays)."""
    out = np.empty((len(x), 2))
    out[:, 0] = x
    out[:, 1] = y
    return out


def circle(n: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    c, s = _unit_circle(n)
    return xy(cx + rx * c, cy + ry * s)


class Pose:
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


class Canvas:
    """Draws points given in frame units on the supersampled canvas, ``W`` pixels wide, of one
    identity ``who``. The base of the renderer and of its parts (head, features)."""

    who: Identity
    W: int

    def _poly(self, d: ImageDraw.ImageDraw, pts: np.ndarray, fill: RGB) -> None:
        if len(pts) >= 3:
            d.polygon((pts * self.W).ravel().tolist(), fill=fill)

    def _line(self, d: ImageDraw.ImageDraw, pts: np.ndarray, fill: RGB, width: float) -> None:
        w = max(1, int(round(width * FRAMING * self.W)))
        d.line((pts * self.W).ravel().tolist(), fill=fill, width=w, joint="curve")
