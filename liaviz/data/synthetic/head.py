"""The head's silhouette parts: face outline, jaw and chin, hair (behind and in front), ears,
beard, hat, neck and shoulders. They follow the head's rim (``Pose.outline``) rather than its
painted surface, so a turn narrows them instead of sweeping them across the face."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from PIL import ImageDraw

from .geometry import Canvas, Pose, circle, lin, xy
from .identity import FRAMING, RGB, shade


class HeadParts(Canvas):
    """The silhouette parts of :class:`~liaviz.data.synthetic.FaceRenderer`."""

    _hair_dark: RGB
    _neck: RGB
    _ear_in: RGB
    _beard: RGB

    def _face_outline_pts(self, jaw_drop: float, n: int = 56) -> np.ndarray:
        return self._face_outline_at(lin(0, 2 * np.pi, n, endpoint=False), jaw_drop)

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
        return xy(u * who.face_w, y)

    def _chin_front(self, p: np.ndarray) -> np.ndarray:
        v = np.clip(p[:, 1] / self.who.face_h, 0.0, 1.2)
        return 0.55 * self.who.depth * v**2

    def _face_outline(self, pose: Pose, jaw_drop: float) -> np.ndarray:
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
        return xy(c * r * who.face_w * 1.02, -s * r * who.face_h)

    def _hair_back(self, d: ImageDraw.ImageDraw, pose: Pose) -> None:
        who = self.who
        style = who.hair_style
        if style in ("bald", "short", "crop"):
            return
        a, b = who.face_w, who.face_h
        if style == "afro":
            t = lin(0, 2 * np.pi, 72, endpoint=False)
            p = self._hair_outer(t, who.hair_volume, bump=0.06)
            p[:, 1] = np.where(p[:, 1] > 0, p[:, 1] * 0.55, p[:, 1]) - 0.05 * b
            p[:, 0] *= 1.12
            self._poly(d, pose.outline(p), who.hair)
            return
        t = lin(-0.1, np.pi + 0.1, 40)
        top = self._hair_outer(t, who.hair_volume)
        L = who.hair_length * b
        wid = a * (1.12 if style == "long" else 1.06) * (1 + who.hair_volume)
        xs = wid * lin(1.0, -1.0, 9)
        bottom = xy(xs, L - 0.08 * b * np.cos(xs / wid * np.pi / 2))
        p = np.concatenate([[[wid, L]], top, [[-wid, L]], bottom[1:-1]])
        # the hanging ends follow the shoulders more than the head, so a tilt bends the hair
        # instead of swinging it out like a board
        w = 0.6 * np.clip(p[:, 1:] / L, 0.0, 1.0)
        self._poly(d, pose.outline(p) * (1 - w) + pose.body(p) * w, self._hair_dark)

    def _body(self, d: ImageDraw.ImageDraw, pose: Pose) -> None:
        who = self.who
        base = (0.5 - who.center_y) / FRAMING  # frame bottom in head coordinates, at rest
        nk = who.face_w * 0.42
        neck_top_y = who.face_h * 0.55
        # neck: top follows the head, bottom follows the body
        top = pose.outline(np.array([[-nk, neck_top_y], [nk, neck_top_y]]))
        bot = pose.body(np.array([[nk * 1.12, base - 0.12], [-nk * 1.12, base - 0.12]]))
        self._poly(d, np.concatenate([top, bot]), self._neck)
        # shoulders
        x = lin(-1, 1, 25)
        sh = np.abs(x) ** 1.6
        y = base - 0.145 + 0.11 * sh - 0.02 * (1 - sh)
        pts = xy(x * 0.56, y)
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
            self._line(d, pose.body(v), shade(who.clothes, 0.7), 0.012)

    def _ears(self, d: ImageDraw.ImageDraw, pose: Pose, f: Mapping[str, float]) -> None:
        who = self.who
        turn = pose.sy / math.sin(math.radians(30))
        for s in (-1, 1):
            # an ear slides behind the head when it turns away
            away = max(0.0, s * turn)
            cx = s * who.face_w * (1.0 + 0.1 - 0.55 * away * who.ear_w / who.face_w * 2.5)
            p = circle(20, cx, who.ear_y, who.ear_w, who.ear_h)
            q = circle(14, cx - s * 0.15 * who.ear_w, who.ear_y, who.ear_w * 0.5, who.ear_h * 0.6)
            self._poly(d, pose.outline(p), who.skin)
            self._poly(d, pose.outline(q), self._ear_in)
            if who.earrings:
                e = circle(12, cx, who.ear_y + who.ear_h * 1.05, who.ear_w * 0.32, who.ear_w * 0.32)
                self._poly(d, pose.outline(e), who.earring_color)

    def _beard_poly(self, d: ImageDraw.ImageDraw, pose: Pose, jaw_drop: float) -> None:
        who = self.who
        a, b = who.face_w, who.face_h
        outer = self._face_outline_at(lin(-0.06, np.pi + 0.06, 40), jaw_drop)  # right to left
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

    def _hair_front(self, d: ImageDraw.ImageDraw, pose: Pose) -> None:
        who = self.who
        a, b = who.face_w, who.face_h
        side = who.hair_side
        tr = math.asin(min(1.0, max(-1.0, -side)))
        t = tr + (math.pi - 2 * tr) * lin(0.0, 1.0, 36)
        vol = who.hair_volume * (0.45 if who.hair_style == "crop" else 1.0)
        bump = 0.05 if who.hair_style == "afro" else 0.0
        outer = pose.outline(self._hair_outer(t, vol, bump))
        # hairline: from the left temple across the forehead to the right temple; it ends where
        # the outer edge starts, so side locks taper instead of ending in a cut
        w_in = math.cos(tr)
        u = w_in * lin(-1.0, 1.0, 25)
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
        p = xy(u * a, v * b)
        # the forehead part is painted on the face; the locks at the sides hang at the head's
        # rim, so they follow its silhouette (else a turn would sweep them across the cheek)
        inner = self._rim_blend(pose, p, u / w_in)
        self._poly(d, np.concatenate([outer, inner]), who.hair)

    def _hat(self, d: ImageDraw.ImageDraw, pose: Pose) -> None:
        who = self.who
        a, b = who.face_w, who.face_h
        vol = min(who.hair_volume, 0.16) + 0.06
        v_side, v_mid = -0.2, min(who.hairline, -0.5) - 0.04
        tr = math.asin(-v_side)
        t = tr + (math.pi - 2 * tr) * lin(0.0, 1.0, 30)
        dome = pose.outline(self._hair_outer(t, vol))
        w = math.cos(tr) * (1.0 + vol * 0.45)
        u = lin(-1.0, 1.0, 17)
        v = v_mid + (v_side - v_mid) * u**2

        def edge(vv: np.ndarray) -> np.ndarray:
            return self._rim_blend(pose, xy(u * w * a, vv * b), u)

        self._poly(d, np.concatenate([dome, edge(v)]), who.hat_color)
        dark = shade(who.hat_color, 0.75)
        if who.hat == "cap":
            front = xy(u * w * a * 0.8, (v + 0.16 * (1 - u**2)) * b)
            brim = pose.surface(front, who.depth * 0.5 * (1 - u**2))
            self._poly(d, np.concatenate([edge(v)[::-1], brim]), dark)
        else:  # beanie: a folded band
            self._poly(d, np.concatenate([edge(v - 0.16)[::-1], edge(v)]), dark)

    def _rim_blend(self, pose: Pose, p: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Points that run from the forehead (painted on the face) out to the head's rim (on
        its silhouette), e.g. a hairline or a hat's edge."""
        w = np.abs(u)[:, None] ** 4
        return pose.surface(p) * (1 - w) + pose.outline(p) * w
