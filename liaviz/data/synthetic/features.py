"""The features painted on the face: nose, eyes (lids, iris, gaze, blink), brows, mouth (lips,
teeth, smile), moustache and glasses. Each is drawn on the head's surface (``Pose.surface``),
so it shifts and foreshortens as the head turns."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import ImageDraw

from .geometry import Canvas, Pose, circle, lin, xy
from .identity import PUPIL, RGB, SCLERA, TEETH


class FeatureParts(Canvas):
    """The painted features of :class:`~liaviz.data.synthetic.FaceRenderer`."""

    _face_dark: RGB
    _nostril: RGB
    _lash: RGB
    _mouth_in: RGB
    _lip_line: RGB

    def _nose(self, d: ImageDraw.ImageDraw, pose: Pose) -> None:
        who = self.who
        nl, nw, ny = who.nose_len, who.nose_w, who.nose_y
        # shadow down the right side of the bridge (light from the upper left)
        t = lin(0, 1, 8)
        side = xy(0.25 * nw + 0.35 * nw * t**2, who.eye_y + 0.3 * who.eye_w + (ny - who.eye_y) * t)
        ridge = xy(0.05 * nw + 0.05 * nw * t, who.eye_y + 0.4 * who.eye_w + (ny - who.eye_y) * t)
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
        base = circle(16, 0.0, ny, nw * 0.62, nw * 0.28)
        base = base[base[:, 1] >= ny - 1e-9]
        self._line(d, pose.surface(base, nl * 0.8), self._face_dark, 0.008)
        for s in (-1, 1):
            n = circle(10, s * nw * 0.3, ny + nw * 0.12, nw * 0.16, nw * 0.09)
            self._poly(d, pose.surface(n, nl * 0.75), self._nostril)

    def _eye(self, d: ImageDraw.ImageDraw, pose: Pose, f: Mapping[str, float], s: int) -> None:
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
            return xy(ex + s * xl, ey + yl)

        xl = ew * lin(-1.0, 1.0, 17)
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
        xs = x0 + (x1 - x0) * lin(0.0, 1.0, n)
        h = np.sqrt(np.maximum(r * r - (xs - cx) ** 2, 0.0))
        up, low = lids(xs)
        top = np.maximum(cy - h, up)
        bot = np.minimum(cy + h, low)
        ok = top < bot
        if ok.sum() < 2:
            return None
        xs, top, bot = xs[ok], top[ok], bot[ok]
        return np.concatenate([xy(xs, top), xy(xs[::-1], bot[::-1])])

    def _brow(self, d: ImageDraw.ImageDraw, pose: Pose, f: Mapping[str, float], s: int) -> None:
        who = self.who
        ew = who.eye_w
        raise_ = f["brow_raise"]
        t = lin(-1.0, 1.0, 11)  # inner -> outer
        x = s * (who.eye_x + t * ew * who.brow_len) - s * 0.1 * ew
        y0 = who.eye_y - who.eye_up * ew - who.brow_gap * ew * 0.6
        arch = who.brow_arch * ew * (1.0 + 0.8 * max(raise_, 0.0))
        y = y0 - arch * (1 - ((t - 0.15) / 1.15) ** 2)
        y = y - 0.9 * ew * raise_  # whole brow up (down when knitted)
        y = y + 0.3 * ew * max(-raise_, 0.0) * np.clip(-t, 0, 1)  # knitted: inner ends drop more
        th = who.brow_thick * ew * (1.0 - 0.45 * np.clip(t, 0, 1))
        p = np.concatenate([xy(x, y - th / 2), xy(x[::-1], (y + th / 2)[::-1])])
        self._poly(d, pose.surface(p, 0.02 * who.depth), who.brow_color)

    def _mouth_curves(self, f: Mapping[str, float]) -> tuple[np.ndarray, ...]:
        who = self.who
        smile, op = f["smile"], max(0.0, f["mouth_open"])
        t = lin(-1.0, 1.0, 17)
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

    def _mouth(self, d: ImageDraw.ImageDraw, pose: Pose, f: Mapping[str, float]) -> None:
        who = self.who
        x, mid, in_up, in_low, out_up, out_low = self._mouth_curves(f)
        st = lambda xs, ys: xy(xs, ys)  # noqa: E731
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

    def _moustache(self, d: ImageDraw.ImageDraw, pose: Pose, f: Mapping[str, float]) -> None:
        who = self.who
        x, mid, in_up, in_low, out_up, out_low = self._mouth_curves(f)
        top = np.full_like(x, who.nose_y + 0.09 * who.nose_w) + 0.02 * (x / x.max()) ** 2
        bot = np.minimum(out_up + 0.004, top + 0.03)
        top = top + 0.012 * (x / x.max()) ** 2
        p = np.concatenate([xy(x * 1.1, top), xy(x[::-1] * 1.1, bot[::-1])])
        self._poly(d, pose.surface(p, 0.01 * who.depth), who.hair)

    def _glasses(self, d: ImageDraw.ImageDraw, pose: Pose) -> None:
        who = self.who
        ew = who.eye_w
        n = 28
        ang = lin(0, 2 * np.pi, n + 1)
        e = 0.35 if who.glasses == "square" else 1.0  # superellipse exponent 2/e
        c, s = np.cos(ang), np.sin(ang)
        sx = np.sign(c) * np.abs(c) ** e
        sy = np.sign(s) * np.abs(s) ** e
        dz = 0.15 * who.depth
        rims = []
        for side in (-1, 1):
            p = xy(side * who.eye_x + sx * ew * 1.45, who.eye_y + 0.08 * ew + sy * ew * 1.1)
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
