"""``build``: the explorer's results rendered headless into a folder, and ``index.html``, one
self-contained page that shows them (``liaviz demo`` is this function behind argparse).

Every figure is also written as its own file beside the page (``DEMO_FILES``, and
``sweep_top<k>.gif`` for the top directions); the page itself carries its own copies, small and
inline (``liaviz.demo.inline``), so it can be mailed or uploaded alone."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis import ENCODE_PRECISION
from ..analysis.anatomy import analyze_directions, direction_names, write_anatomy
from ..analysis.diagnostics import anatomy_figure
from ..analysis.display import letterbox, upscale
from ..analysis.edits import DEFAULT_VALUES, decode_edits, loop_values, sweep_images
from ..analysis.figures import grid_figure, pca_figure, reference_figure, save_figure
from ..analysis.flows import reference_arrays
from ..analysis.magnitudes import MagnitudeSet, rank_directions, video_magnitudes
from ..analysis.pca import fit_pca
from ..analysis.pca_plots import pca_scatter, with_color_buttons, write_html
from ..analysis.ranges import ranges_from_magnitudes
from ..checkpoints.model import PRETRAINED_DIR
from ..errors import UserError
from ..io import VideoWriter, read_video, to_uint8, write_image
from ..io.atomic import check_not_a_guarded_input, guarding_inputs, write_bytes, write_text
from ..nn import LIA
from ..pipelines.animate import animate
from ..runtime.device import choose_precision, model_device
from ..runtime.source import encode_source, source_crop, source_image, source_tensor
from . import page
from .media import (
    EMBEDDED_MODEL,
    load_demo_model,
    real_photo_note,
    sample_driving,
    sample_photo,
    sample_portrait,
)

# what build writes into ``out`` besides sweep_top<k>.gif for the top directions
DEMO_FILES = (
    "model_card.md", "source.png", "reference.png", "directions.json", "directions.png",
    "pca.html", "pca_3d.html", "plotly.min.js", "pca_matplotlib.png", "pca.png", "sweep.png",
    "animation.mp4", "animation.gif", "photo.mp4", "photo.gif", "index.html",
)  # fmt: skip
DEMO_STEPS = 9
FPS = 12


@dataclass
class DemoResult:
    """What ``build`` made: the page, the files beside it, and the order it showed."""

    folder: Path
    index: Path  # index.html: self-contained, shareable alone
    files: list[str]  # every file written in ``folder``
    order: list[int]  # 0-based directions, most important first (the page's and sweep's order)
    names: list[str]  # "d<i>: <anatomy label>" per direction, measured on the portrait shown
    importance: np.ndarray  # (M,) the measure behind ``order``
    importance_basis: str  # the measure and what it was computed over (``Ranking.label``)


class _Steps:
    """Numbered progress lines with timings, flushed so they show as they happen; silent (and
    warnings as ``UserWarning``) when ``enabled`` is False."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.n, self.t0 = enabled, 0, time.perf_counter()

    def __call__(self, text: str) -> None:
        self.n += 1
        if self.enabled:
            print(f"[{self.n}/{DEMO_STEPS}] {text}", flush=True)

    def done(self, text: str) -> None:
        if self.enabled:
            print(f"      {text} ({time.perf_counter() - self.t0:.1f} s so far)", flush=True)

    def note(self, text: str) -> None:
        if self.enabled:
            print(f"      {text}", flush=True)

    def warn(self, text: str, prefix: str = "WARNING: ") -> None:
        if self.enabled:
            print(f"{prefix}{text}", file=sys.stderr, flush=True)
        else:
            warnings.warn(text, UserWarning, stacklevel=3)


def build(
    model: LIA | str | os.PathLike | None = None,
    out: str | os.PathLike = "out/demo",
    *,
    image: str | os.PathLike | np.ndarray | None = None,
    photo: str | os.PathLike | np.ndarray | None = None,
    driving: Sequence | Mapping | None = None,
    frames: int = 48,
    top: int = 4,
    precision: str = "auto",
    label: str | None = None,
    progress: bool = False,
) -> DemoResult:
    """Render the demo into the folder ``out`` and return what it made.

    ``model``: a ``LIA``, a checkpoint path (e.g. the official vox.pt) or bundled name, or None
    for the bundled model (a random-weight stand-in, with a warning, where the install has none).
    ``image``: the portrait (default: the Mona Lisa); ``photo``: a whole photo whose face is
    animated in place (default: NASA's astronaut portrait); ``driving``: driving videos (paths or
    uint8 arrays, or a mapping name -> video; default: two synthetic talking-head clips), of
    which the first ``frames`` frames are read. ``top``: how many directions are shown large and
    animated. ``label`` names a ``LIA`` given as an object on the page. With ``progress``, each
    step prints a numbered line. No file is written over one of the inputs.
    """
    if frames < 2:
        raise UserError(f"--frames must be at least 2, got {frames}")
    if top < 1:
        raise UserError(f"--top must be at least 1, got {top}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    videos = None if driving is None else _named_videos(driving)
    inputs = [p for p in (model, image, photo, *(videos or {}).values()) if _is_path(p)]
    with guarding_inputs(*inputs):
        sweeps = [f"sweep_top{rank}.gif" for rank in range(1, top + 1)]
        for name in (*DEMO_FILES, *sweeps):  # refused before the first file is written
            check_not_a_guarded_input(out / name)
        out.mkdir(parents=True, exist_ok=True)
        return _Build(out, _Steps(progress)).run(
            model, image, photo, videos, frames, top, precision, label
        )


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _named_videos(driving) -> dict:
    if isinstance(driving, Mapping):
        return {str(k): v for k, v in driving.items()}
    if _is_path(driving) or (isinstance(driving, np.ndarray) and driving.ndim == 4):
        driving = [driving]
    return {(Path(v).stem if _is_path(v) else f"clip {i + 1}"): v for i, v in enumerate(driving)}


class _Build:
    """The steps of one ``build``, in order; each writes its files and keeps what the page
    needs in ``self.page``."""

    def __init__(self, out: Path, step: _Steps) -> None:
        self.out, self.step = out, step
        self.page = page.PageData()

    def run(self, model, image, photo, videos, frames, top, precision, label) -> DemoResult:
        step, out = self.step, self.out
        step("loading the model")
        model, label = self._load(model, label)
        self.precision, reason = choose_precision(precision, model_device(model))
        if reason:  # worded as every command words a turned-down bfloat16
            step.warn(reason, prefix="liaviz demo: warning: ")
        size, m = model.config.size, model.config.motion_dim
        step.done(f"{label}: {size}x{size}, {m} directions")

        step("reference image, flows and masks")
        x = source_tensor(model, sample_portrait() if image is None else image)
        source = to_uint8(x.cpu())[0]
        write_image(out / "source.png", source)
        state = encode_source(model, x, precision=ENCODE_PRECISION)
        arrays = reference_arrays(model, x, self.precision)
        save_figure(reference_figure(arrays), out / "reference.png")
        self.page.source, self.page.reference = source, arrays
        step.done("source.png, reference.png")

        step("direction anatomy: what each direction does, on this portrait's flow fields")
        anatomy = analyze_directions(model, [source])
        write_anatomy(anatomy, out / "directions.json")
        save_figure(anatomy_figure(anatomy), out / "directions.png", dpi=110)
        names = direction_names(anatomy, m)
        self.page.anatomy, self.page.directions_json = anatomy, (out / "directions.json")
        step.done("directions.json, directions.png")

        step("magnitudes of the driving clips, their PCA, and the directions' importance")
        if videos is None:
            videos = {
                f"synthetic clip {i + 1}": sample_driving(size, frames, index=i) for i in range(2)
            }
        else:
            videos = {k: read_video(v, max_frames=frames) if _is_path(v) else v[:frames]
                      for k, v in videos.items()}  # fmt: skip
        mags = video_magnitudes(model, videos, keep_frames=True, progress=step.enabled)
        ranking = rank_directions(model, mags)  # the explorer's order and words, exactly
        spread, kind, order, basis = ranking.values, ranking.kind, ranking.order, ranking.label
        self._pca(mags)
        step.done(", ".join(f for f in self.page.pca_files))

        step(f"sweep grid: {m} directions x {len(DEFAULT_VALUES)} magnitudes, most important first")
        sweep = sweep_images(
            model, state, order, DEFAULT_VALUES, precision=self.precision, progress=step.enabled
        )
        row_names = [f"{names[d]} ({kind} {spread[d]:.2f})" for d in order]
        fig = grid_figure(sweep, row_names, DEFAULT_VALUES, cell_inches=1.2)
        save_figure(fig, out / "sweep.png", dpi=max(100, size * 1.1))
        step.done("sweep.png")

        chosen = order[: min(top, m)]
        step(f"the {len(chosen)} most important directions, animated over the clips' range")
        limits = ranges_from_magnitudes(mags.alpha, state.alpha[0].float().cpu().numpy())
        tops = []
        for rank, d in enumerate(chosen, 1):
            hi = float(limits[d, 1])
            values = loop_values(hi)
            edits = np.zeros((len(values), m), np.float32)
            edits[:, d] = values
            clip = decode_edits(model, state, edits, precision=self.precision)
            with VideoWriter(out / f"sweep_top{rank}.gif", fps=FPS) as w:
                w.write_many(upscale(clip, 256))
            tops.append(page.Top(rank, d, names[d], float(spread[d]), hi, clip))
        step.done(", ".join(f"sweep_top{t.rank}.gif" for t in tops))

        step("edit, then animate: the source driven by the first clip")
        first = mags.frames[mags.video == 0]
        result = np.stack(
            list(animate(model, state, first, mode="relative", precision=self.precision,
                         progress=step.enabled))
        )  # fmt: skip
        side = np.concatenate([first, result], axis=2)
        with VideoWriter(out / "animation.mp4", fps=FPS) as w:
            w.write_many(upscale(side, 256))
        with VideoWriter(out / "animation.gif", fps=FPS) as w:
            w.write_many(upscale(side, 192))
        step.done("animation.mp4, animation.gif")

        step("a whole photo: its face found, animated and pasted back in place")
        self._photo(model, photo, first)
        step.done(f"photo.gif, photo.mp4 ({self.page.photo_note})")

        step("index.html")
        p = self.page
        p.label, p.size, p.m, p.names, p.order = label, size, m, names, order
        p.spread, p.kind, p.basis, p.tops, p.sweep = spread, kind, basis, tops, sweep
        p.animation, p.n_frames = side, len(first)
        write_text(out / "index.html", page.render(p))
        step.done(f"open {out / 'index.html'}")
        return DemoResult(
            out, out / "index.html", sorted(f.name for f in out.iterdir() if f.is_file()),
            order, names, spread, basis,
        )  # fmt: skip

    def _load(self, model, label: str | None) -> tuple[LIA, str]:
        """The model, and the name the page gives it; its card and a note on what to expect."""
        if isinstance(model, LIA):
            self.page.note = real_photo_note(label)
            self._copy_card(label)
            return model, label or "a model given from Python"
        if self.step.enabled:  # printed below, once, as a WARNING line
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                loaded, warning = load_demo_model(model)
        else:
            loaded, warning = load_demo_model(model)
        if warning:
            if self.step.enabled:  # else load_demo_model has issued it as a UserWarning
                self.step.warn(warning)
            self.page.warning = warning
            return loaded, label or "random weights (stand-in)"
        name = label or (str(model) if model is not None else EMBEDDED_MODEL)
        self.page.note = real_photo_note(name)
        self._copy_card(None if model is not None else EMBEDDED_MODEL)
        return loaded, name

    def _copy_card(self, name: str | None) -> None:
        """A bundled model's card, copied next to the page and kept for it (rendered there)."""
        card = PRETRAINED_DIR / f"{name}.md" if name else None
        if card is not None and card.is_file():
            text = card.read_text()
            write_bytes(self.out / "model_card.md", text.encode())
            self.page.card = text

    def _pca(self, mags: MagnitudeSet) -> None:
        """Interactive HTML files (2D with colour buttons, 3D), a matplotlib PNG, and a plotly
        PNG when kaleido and a Chromium are installed; the page keeps the figures themselves."""
        out, p = self.out, self.page
        p.pca = fit_pca(mags)
        p.pca_2d = with_color_buttons(pca_scatter(p.pca, mags, 2), mags)
        write_html(p.pca_2d, out / "pca.html")
        p.pca_files = ["pca.html"]
        if p.pca.n_components >= 3:
            p.pca_3d = with_color_buttons(pca_scatter(p.pca, mags, 3), mags)
            write_html(p.pca_3d, out / "pca_3d.html")
            p.pca_files.append("pca_3d.html")
        p.pca_static = pca_figure(p.pca, mags)
        save_figure(p.pca_static, out / "pca_matplotlib.png")
        p.pca_files.append("pca_matplotlib.png")
        browser = next(
            (which for b in ("chromium", "chromium-browser", "google-chrome")
             if (which := shutil.which(b))),
            None,
        )  # fmt: skip
        if importlib.util.find_spec("kaleido") is None or browser is None:
            missing = "kaleido" if importlib.util.find_spec("kaleido") is None else "a Chromium"
            self.step.note(f"pca.png skipped: needs {missing} (the HTML and matplotlib PNG are "
                           "written)")  # fmt: skip
            return
        try:
            png = pca_scatter(p.pca, mags, 2).to_image(format="png", width=900, height=500)
            write_bytes(out / "pca.png", png)
            p.pca_files.append("pca.png")
        except Exception as e:  # kaleido/browser trouble must not sink the whole demo
            self.step.note(f"pca.png skipped: static export failed ({type(e).__name__}: {e})")

    def _photo(self, model: LIA, photo, driving: np.ndarray) -> None:
        """The photo's face animated by ``driving`` and pasted back into it: photo.mp4 at the
        photo's size, photo.gif (and the page's copy) at most 320 px."""
        whole_photo = source_image(photo) if photo is not None else sample_photo()
        name = str(photo) if _is_path(photo) else "photo"
        placed = source_crop(whole_photo, model.config.size, "auto", name=name)
        faces = animate(model, placed.crop, driving, precision=self.precision, paste_back=False)
        small = min(320, max(whole_photo.shape[:2]))
        shown = []
        with (
            VideoWriter(self.out / "photo.mp4", fps=FPS) as mp4,
            VideoWriter(self.out / "photo.gif", fps=FPS) as gif,
        ):
            for face in faces:
                whole = placed.paste(whole_photo, face)
                mp4.write(whole)
                shown.append(letterbox(whole, small))
                gif.write(shown[-1])
        self.page.photo, self.page.photo_note = shown, placed.describe()
