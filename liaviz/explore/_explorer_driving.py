"""The explorer's driving clip: its frames and magnitudes (slider ranges, the importance order),
"take motion from frame", and animating the edited source through the mixer."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from ..analysis import AnalysisError, ranges
from ..analysis.display import png
from ..analysis.magnitudes import (
    MagnitudeSet,
    Ranking,
    frame_magnitudes,
    model_frames,
    rank_directions,
)
from ..analysis.mixer import direction_number
from ..io import Crop
from ..numeric import count_or_none
from ._common import play

if TYPE_CHECKING:
    from .direction_explorer import DirectionExplorer


def check_order_by(order_by, m: int):
    """``order_by`` as given (a ``MagnitudeSet`` or magnitudes (N, M), N >= 2) or None."""
    if order_by is None or isinstance(order_by, MagnitudeSet):
        if order_by is not None and order_by.alpha.shape[1] != m:
            raise AnalysisError(f"order_by has {order_by.alpha.shape[1]} directions, not {m}")
        return order_by
    a = np.asarray(order_by, np.float64)
    if a.ndim != 2 or a.shape[1] != m or a.shape[0] < 2:
        raise AnalysisError(f"order_by must be magnitudes (N >= 2, {m}), got shape {a.shape}")
    return a


def mute_list(mute, m: int) -> list[int]:
    """Muted directions, 1-based: a list of numbers or text such as "1,2" or "1 2"."""
    if isinstance(mute, str):
        mute = [p for p in re.split(r"[,\s]+", mute.strip()) if p]
    return [direction_number(k, m, "mute", AnalysisError) for k in mute or ()]


class DrivingControls:
    """The driving clip of one explorer (``frames`` None without one)."""

    def __init__(self, explorer: DirectionExplorer, order_by, max_frames: int, crop: Crop) -> None:
        self.explorer = explorer
        self.model = explorer.model
        self.order_by = check_order_by(order_by, explorer.m)
        self.max_frames, self.crop = max_frames, crop
        self.frames: np.ndarray | None = None
        self._alpha: np.ndarray | None = None
        self.last_animation: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return 0 if self.frames is None else len(self.frames)

    def set_frames(self, driving) -> None:
        """Read a clip (path, frames or iterable) as the model sees it; None: no clip."""
        if driving is None:
            self.frames = None
        else:
            self.frames = model_frames(self.model, driving, self.crop, self.max_frames)
        self._alpha = None
        if hasattr(self.explorer, "ui"):  # a clip given later (the upload box)
            ui = self.explorer.ui
            ui.frame_slider.value = 0
            ui.frame_slider.max = max(self.n_frames - 1, 0)
            ui.progress.max, ui.progress.value = max(self.n_frames, 1), 0
            ui.set_driving_enabled(self.frames is not None)
            if self.frames is not None:
                self.show_frame(0)

    def magnitudes(self) -> np.ndarray:
        """Magnitudes A (T, M) of the driving frames (computed once, on first use)."""
        if self.frames is None:
            raise AnalysisError("no driving video: pass driving=... or upload one")
        if self._alpha is None:
            self._alpha = frame_magnitudes(self.model, self.frames)
        return self._alpha

    def data(self) -> np.ndarray | None:
        """The magnitudes that set the ranges: the driving clip's and ``order_by``'s."""
        parts = [] if self.frames is None else [self.magnitudes()]
        if self.order_by is not None:
            a = self.order_by.alpha if isinstance(self.order_by, MagnitudeSet) else self.order_by
            parts.append(np.asarray(a, np.float64))
        return np.concatenate(parts) if parts else None

    def ranking(self) -> Ranking:
        """The one importance order: over ``order_by`` when given, else over the clip."""
        if self.order_by is not None:
            return rank_directions(self.model, self.order_by)
        if self.frames is not None:
            over = f"the driving clip ({self.n_frames} frames)"
            return rank_directions(self.model, self.magnitudes(), over)
        return rank_directions(self.model)

    def slider_ranges(self, value_range) -> tuple[np.ndarray, str]:
        source = self.explorer.state.alpha[0].float().cpu().numpy()
        lo_hi, _, kind = ranges.slider_ranges(self.explorer.m, self.data(), source, value_range)
        return lo_hi, kind

    def show_frame(self, index: int) -> None:
        if self.frames is not None:
            self.explorer.ui.frame_image.value = png(self.frames[index], 96)

    def take_motion(self, index: int) -> np.ndarray:
        if self.frames is None:
            raise AnalysisError("no driving video: pass driving=... or upload one")
        if not 0 <= index < len(self.frames):
            raise AnalysisError(
                f"frame {index} outside the driving video (0..{len(self.frames) - 1})"
            )
        source = self.explorer.state.alpha[0].float().cpu().numpy()
        e = (self.magnitudes()[index] - source).astype(np.float32)
        self.explorer.set_values(e)
        self.explorer.log(f"took the motion of frame {index}")
        return e

    def animate(self, mode: str, max_frames, mute, motion_scale) -> np.ndarray:
        from ..pipelines.animate import animate

        ex, ui = self.explorer, self.explorer.ui
        if self.frames is None:
            raise AnalysisError("no driving video: pass driving=... or upload one")
        driving = self.frames[: count_or_none(max_frames, "max_frames", AnalysisError)]
        mute = mute_list(ex.mixer.mute() if mute is None else mute, ex.m)
        scale = ex.mixer.motion_scale() if motion_scale is None else float(motion_scale)
        if not scale >= 0:
            raise AnalysisError(f"motion × must be a number >= 0, got {scale:g}")
        ui.progress.max, ui.progress.value = len(driving), 0
        frames = []
        try:
            for frame in animate(
                ex.model, ex.state, driving, mode=mode, edit=ex.values(), precision=ex.precision,
                mute=mute, motion_scale=scale,
            ):  # fmt: skip
                frames.append(frame)
                ui.progress.value = len(frames)
        finally:
            ui.progress.value = 0  # ready for the next run
        self.last_animation = np.stack(frames)
        side = np.concatenate([driving, self.last_animation], axis=2)
        ui.animation_box.children = [
            play(side, 12.0, ex.display_size, self.caption(mode, mute, scale))
        ]
        ex.log(f"animated {len(frames)} frames ({mode})")
        return self.last_animation

    def caption(self, mode: str, mute: list[int], scale: float) -> str:
        """What the animation shows, the mixer included."""
        names = self.explorer.names
        muted = ", ".join(names[i - 1] for i in mute) if mute else "none"
        return (
            f"driving (left) and the edited source, {mode} mode; muted: {muted}; motion ×{scale:g}"
        )
