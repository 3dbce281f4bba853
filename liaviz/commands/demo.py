"""`liaviz demo --out out/demo`: the explorer's results rendered headless, with an index.html.

Uses the bundled model (or a small random-weight model, with a warning, when this install has
none; or ``--checkpoint`` such as the official vox.pt), the Mona Lisa that ships with liaviz (or
``--image``) and synthetic talking-head clips (or ``--driving``). Nothing is downloaded. The
directions are shown most important first (the spread of each magnitude over the clips).
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..numeric import MAX_FRAMES, flag, integer
from .animate import add_precision_option, apply_precision

# what the demo writes into --out (and sweep_top<k>.gif for the --top directions)
OUTPUT_FILES = (
    "model_card.md", "source.png", "reference.png", "directions.json", "directions.png",
    "pca.html", "pca_3d.html", "plotly.min.js", "pca_matplotlib.png", "pca.png", "sweep.png",
    "animation.mp4", "animation.gif", "index.html",
)  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="render the explorer's views headless into a folder with an index.html",
        description=__doc__.split("\n\n")[0].strip(),
    )
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument(
        "--checkpoint",
        help="model to explore: a checkpoint path (e.g. vox.pt) or bundled name "
        "(default: embedded, the bundled model trained on synthetic faces)",
    )
    p.add_argument("--image", help="source portrait (default: the Mona Lisa, shipped with liaviz)")
    p.add_argument(
        "--photo",
        help="a whole photo whose face is animated in place (default: NASA's astronaut "
        "portrait, shipped with liaviz)",
    )
    p.add_argument(
        "--driving",
        action="append",
        help="driving video (repeat for several; default: two synthetic talking-head clips)",
    )
    p.add_argument(
        "--frames",
        type=flag(integer, 2, MAX_FRAMES),
        default=48,
        help="frames per driving clip (default 48)",
    )
    p.add_argument(
        "--top",
        type=flag(integer, 1, 1024),  # the most directions a model has (LIAConfig.LIMITS)
        default=4,
        help="directions shown large and animated (default 4)",
    )
    add_precision_option(p)
    p.set_defaults(func=run)


class _Steps:
    """Numbered progress lines with timings, flushed so they show as they happen."""

    def __init__(self, total: int) -> None:
        self.total, self.n, self.t0 = total, 0, time.perf_counter()

    def __call__(self, text: str) -> None:
        self.n += 1
        print(f"[{self.n}/{self.total}] {text}", flush=True)

    def done(self, text: str) -> None:
        print(f"      {text} ({time.perf_counter() - self.t0:.1f} s so far)", flush=True)


def run(args: argparse.Namespace) -> int:
    from .. import demo
    from ..analysis import ENCODE_PRECISION
    from ..analysis.display import upscale
    from ..analysis.edits import DEFAULT_VALUES, loop_values, write_sweep
    from ..analysis.figures import reference_figure, save_figure, sweep_grid
    from ..analysis.flows import reference_arrays
    from ..analysis.magnitudes import direction_variance, order_by_variance, video_magnitudes
    from ..analysis.pca import fit_pca
    from ..analysis.ranges import ranges_from_magnitudes
    from ..animate import animate
    from ..atomic import check_not_a_guarded_input, write_text
    from ..io import VideoWriter, read_video, to_uint8, write_image
    from ..runtime import encode_source, model_device, source_tensor

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    sweeps = [f"sweep_top{rank}.gif" for rank in range(1, args.top + 1)]
    for name in (*OUTPUT_FILES, *sweeps):  # none of them may be an input (--image, --driving)
        check_not_a_guarded_input(out / name)
    out.mkdir(parents=True, exist_ok=True)
    step = _Steps(9)

    step("loading the model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # printed below, once, as a WARNING line
        model, warning = demo.load_demo_model(args.checkpoint)
    if warning:
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    size, m = model.config.size, model.config.motion_dim
    args.precision = apply_precision(args, model_device(model))
    label = args.checkpoint or (demo.EMBEDDED_MODEL if not warning else "random weights (stand-in)")
    card = _copy_model_card(out, None if args.checkpoint or warning else demo.EMBEDDED_MODEL)
    step.done(f"{label}: {size}x{size}, {m} directions")

    step("reference image, flows and masks")
    x = source_tensor(model, args.image or demo.sample_portrait())
    source = to_uint8(x.cpu())[0]
    write_image(out / "source.png", source)
    state = encode_source(model, x, precision=ENCODE_PRECISION)
    arrays = reference_arrays(model, x, args.precision)
    save_figure(reference_figure(arrays), out / "reference.png")
    step.done("source.png, reference.png")

    step("direction anatomy: what each direction does, from the flow fields")
    labels = _write_anatomy(out, model, source if args.image else None)
    step.done("directions.json, directions.png")

    step("magnitudes of the driving clips, and their PCA")
    if args.driving:
        videos = {Path(p).stem: read_video(p, max_frames=args.frames) for p in args.driving}
    else:
        videos = {
            f"synthetic clip {i + 1}": demo.sample_driving(size, args.frames, index=i)
            for i in range(2)
        }
    mags = video_magnitudes(model, videos, keep_frames=True, progress=True)
    result = fit_pca(mags)
    pca_files, pca_div = _write_pca(out, result, mags)
    order = [int(i) for i in order_by_variance(mags)]
    spread = np.sqrt(direction_variance(mags))
    step.done(", ".join(pca_files))

    step(f"sweep grid: {m} directions x {len(DEFAULT_VALUES)} magnitudes, most important first")
    names = [f"{labels[i]} (σ {spread[i]:.2f})" for i in range(m)]
    fig = sweep_grid(
        model,
        state,
        directions=order,
        values=DEFAULT_VALUES,
        names=names,
        precision=args.precision,
        cell_inches=1.2,
        progress=True,
    )
    save_figure(fig, out / "sweep.png", dpi=max(100, size * 1.1))
    step.done("sweep.png")

    top = order[: min(args.top, m)]
    step(f"the {len(top)} most important directions, animated over the clips' range")
    limits = ranges_from_magnitudes(mags.alpha, state.alpha[0].float().cpu().numpy())
    tops = []
    for rank, d in enumerate(top, 1):
        hi = float(limits[d, 1])
        name = f"sweep_top{rank}.gif"
        write_sweep(
            model, state, d, out / name, loop_values(hi), precision=args.precision, min_size=256
        )
        tops.append((name, d, hi, float(spread[d]), labels[d]))
    step.done(", ".join(t[0] for t in tops))

    step("edit, then animate: the source driven by the first clip")
    driving = mags.frames[mags.video == 0]
    frames = np.stack(
        list(
            animate(model, state, driving, mode="relative", precision=args.precision, progress=True)
        )
    )
    side = np.concatenate([driving, frames], axis=2)
    with VideoWriter(out / "animation.mp4", fps=12) as w:
        w.write_many(upscale(side, 256))
    with VideoWriter(out / "animation.gif", fps=12) as w:
        w.write_many(upscale(side, 192))
    step.done("animation.mp4, animation.gif")

    step("a whole photo: its face found, animated and pasted back in place")
    photo_note = _write_photo(out, model, args.photo, driving, args.precision)
    step.done(f"photo.gif, photo.mp4 ({photo_note})")

    step("index.html")
    note = demo.real_photo_note(label) if not warning else None
    page = _Page(label, warning, note, card, model, result, tops, pca_files, pca_div, labels)
    write_text(out / "index.html", page.html())
    step.done(f"open {out / 'index.html'}")
    return 0


def _write_photo(out: Path, model, photo, driving: np.ndarray, precision) -> str:
    """The photo's face animated by ``driving`` and pasted back into it: photo.mp4 at the
    photo's size, photo.gif at most 320 px. Returns how the face was cropped."""
    from .. import demo
    from ..analysis.display import letterbox
    from ..animate import animate
    from ..io import VideoWriter
    from ..runtime import source_crop, source_image

    image = source_image(photo) if photo else demo.sample_photo()
    placed = source_crop(image, model.config.size, "auto", name=str(photo or "photo"))
    frames = animate(model, placed.crop, driving, precision=precision, paste_back=False)
    small = min(320, max(image.shape[:2]))
    with (
        VideoWriter(out / "photo.mp4", fps=12) as mp4,
        VideoWriter(out / "photo.gif", fps=12) as gif,
    ):
        for frame in frames:
            whole = placed.paste(image, frame)
            mp4.write(whole)
            gif.write(letterbox(whole, small))
    return placed.describe()


def _write_anatomy(out: Path, model, source) -> list[str]:
    """``liaviz directions``' measurement on the portrait (or, without ``--image``, on synthetic
    faces, the bundled model's own domain); returns the slider/row names "d<i>: <label>"."""
    from ..analysis.figures import save_figure
    from ..anatomy import analyze_directions, direction_names, write_anatomy
    from ..diagnostics import anatomy_figure

    anatomy = analyze_directions(model, None if source is None else [source])
    write_anatomy(anatomy, out / "directions.json")
    save_figure(anatomy_figure(anatomy), out / "directions.png", dpi=110)
    return direction_names(anatomy, model.config.motion_dim)


def _copy_model_card(out: Path, name: str | None) -> str | None:
    """Copy a bundled model's card next to the page (linked from it); None without one."""
    from ..atomic import write_bytes
    from ..checkpoint import PRETRAINED_DIR

    card = PRETRAINED_DIR / f"{name}.md" if name else None
    if card is None or not card.is_file():
        return None
    write_bytes(out / "model_card.md", card.read_bytes())
    return "model_card.md"


def _write_pca(out: Path, result, mags) -> tuple[list[str], str]:
    """Interactive HTML (2D with colour buttons, 3D), a matplotlib PNG, and a plotly PNG when
    kaleido and a Chromium are installed."""
    from ..analysis.figures import pca_figure, save_figure
    from ..analysis.pca_plots import pca_scatter, with_color_buttons, write_html
    from ..atomic import write_bytes

    files = []
    fig2 = with_color_buttons(pca_scatter(result, mags, 2), mags)
    # the same plot inline in index.html, sharing the plotly.min.js that write_html puts there
    div = fig2.to_html(full_html=False, include_plotlyjs="directory")
    write_html(fig2, out / "pca.html")
    files.append("pca.html")
    if result.n_components >= 3:
        write_html(with_color_buttons(pca_scatter(result, mags, 3), mags), out / "pca_3d.html")
        files.append("pca_3d.html")
    save_figure(pca_figure(result, mags), out / "pca_matplotlib.png")
    files.append("pca_matplotlib.png")
    browser = next(
        (
            shutil.which(b)
            for b in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(b)
        ),
        None,
    )
    if importlib.util.find_spec("kaleido") is None or browser is None:
        missing = "kaleido" if importlib.util.find_spec("kaleido") is None else "a Chromium browser"
        print(f"      pca.png skipped: needs {missing} (the HTML and matplotlib PNG are written)")
    else:
        try:
            write_bytes(
                out / "pca.png",
                pca_scatter(result, mags, 2).to_image(format="png", width=900, height=500),
            )
            files.append("pca.png")
        except Exception as e:  # kaleido/browser trouble must not sink the whole demo
            print(f"      pca.png skipped: static export failed ({type(e).__name__}: {e})")
    return files, div


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>liaviz demo: LIA's motion directions</title>
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 24px auto; padding: 0 16px;
        color: #222; line-height: 1.45; }}
 h1 {{ font-size: 24px; }} h2 {{ font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }}
 .warn {{ background: #fff3cd; border: 1px solid #e0b000; padding: 8px 12px; border-radius: 4px; }}
 .row {{ display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }}
 figure {{ margin: 0; }} figcaption {{ font-size: 13px; color: #555; }}
 img.px {{ image-rendering: pixelated; }}
 .plot {{ border: 1px solid #ddd; }}
 code {{ background: #f4f4f4; padding: 1px 4px; }}
</style></head><body>
<h1>liaviz demo: the motion directions of a Latent Image Animator</h1>
<div class="row"><figure><img src="source.png" class="px" width="160" alt="source">
<figcaption>the source</figcaption></figure>
<div style="flex:1;min-width:320px">
<p>Model: <b>{label}</b> ({size}&times;{size}, {m} directions). {card}</p>
{warning}{note}
<p>LIA (Wang et al., ICLR 2022) encodes a face into a latent code and moves that code along a
small dictionary of learned, orthonormal <em>motion directions</em> d<sub>1</sub>..d<sub>{m}</sub>;
the decoder turns each code into flow fields that warp the source. This page shows what each
direction does, <b>most important first</b>: importance is the spread &sigma; of each direction's
magnitude over the driving clips. The interactive version is <code>make lab</code> (notebook
<code>notebooks/explore_directions.ipynb</code>).</p></div></div>

<h2>The {n_top} most important directions</h2>
<div class="row">{tops}</div>
<p style="font-size:13px;color:#555">Each clip moves the source's code along one direction alone,
z = z<sub>s&rarr;s</sub> + a&middot;d<sub>i</sub>, for a from 0 to +r, to &minus;r and back, where
r covers every frame of the clips (r = 1.1 &times; max(3&sigma;, max |A<sub>t</sub> &minus;
A<sub>s</sub>|), rounded up).</p>

<h2>What each direction does</h2>
<p>Measured from the decoder's flow fields, without landmarks (<code>liaviz directions</code>): a
step along each direction is split into a global similarity (shift x, shift y, roll, zoom) and a
local residual; the labels also name the sweep rows and the explorer's sliders.
<a href="directions.json">directions.json</a></p>
<p>{labels}</p>
<figure><img src="directions.png" style="max-width:100%" alt="direction anatomy">
<figcaption>One row per direction: its flow change (colour = direction), where the local motion
concentrates (box), and the shares of its flow energy.</figcaption></figure>

<h2>Sweep grid (paper Fig. 6), most important first</h2>
<figure><img src="sweep.png" style="width:100%" alt="sweep grid">
<figcaption>Row i moves the source's code along one direction alone,
z = z<sub>s&rarr;s</sub> + a&middot;d<sub>i</sub>, for a = &minus;3..3; rows are sorted by
&sigma; (in the row names); the outlined column (a = 0) is the reconstruction.</figcaption></figure>

<h2>Reference image (paper Fig. 5)</h2>
<figure><img src="reference.png" style="max-width:100%" alt="reference view">
<figcaption>Top: the source, the reference image x<sub>r</sub> (the code z<sub>s&rarr;r</sub>
with no motion added: the source in the model's canonical pose) and the reconstruction.
Row &ldquo;flow&rdquo;: the flow field at each decoder scale, coarse to fine (colour = direction of
the shift, paler = smaller shift). Row &ldquo;mask&rdquo;: where each scale uses the warped source
features (white) or generates (black).</figcaption></figure>

<h2>PCA of motion magnitudes</h2>
<p>Each frame of the driving clips encodes to magnitudes A (one per direction). Their principal
components show which combinations of directions real motion uses.
Explained variance: {explained}.</p>
{pca_div}
<p>{pca_links}</p>

<h2>Edit, then animate</h2>
<figure><img src="animation.gif" class="px" width="512" alt="animation">
<figcaption>driving clip (left) and the source animated by it, relative mode (eq. 12).
<a href="animation.mp4">MP4</a></figcaption></figure>
<h2>A whole photo: the face animated in place</h2>
<figure><img src="photo.gif" width="320" alt="photo animated in place">
<figcaption>The face is found (RetinaFace), cropped as the model was trained (eye-to-mouth
0.225 of the side, eyes at half height), animated by the first clip and pasted back through a
feathered mask; the rest of the photo is untouched. <a href="photo.mp4">MP4</a> at the
photo's own size. Default photo: NASA's portrait of Eileen Collins (public domain).</figcaption>
</figure>
<p>Use your own media: <code>liaviz demo --image me.jpg --photo group.jpg --driving talk.mp4
--checkpoint vox.pt</code>, or <code>liaviz animate --source photo.jpg ...</code>.</p>
</body></html>
"""


class _Page:
    """index.html from the demo's results."""

    def __init__(self, label, warning, note, card, model, result, tops, pca_files, pca_div, labels):
        self.label, self.warning, self.note, self.card = label, warning, note, card
        self.model, self.result, self.tops = model, result, tops
        self.pca_files, self.pca_div, self.labels = pca_files, pca_div, labels

    def html(self) -> str:
        explained = ", ".join(
            f"PC{k + 1} {100 * r:.0f}%" for k, r in enumerate(self.result.explained[:5])
        )
        links = [f'<a href="{f}">{f}</a>' for f in self.pca_files if f != "pca.html"]
        tops = "".join(
            f'<figure><img src="{name}" class="px" width="240" alt="d{d + 1}">'
            f"<figcaption><b>#{rank} {html.escape(label)}</b> &sigma; {sd:.2f}, "
            f"a = &plusmn;{hi:g}</figcaption></figure>"
            for rank, (name, d, hi, sd, label) in enumerate(self.tops, 1)
        )
        card = (
            f'Model card: <a href="{self.card}">{self.card}</a> (how it was trained, what it can do).'
            if self.card
            else "No model card for this checkpoint."
        )
        return _PAGE.format(
            label=html.escape(str(self.label)),
            size=self.model.config.size,
            m=self.model.config.motion_dim,
            card=card,
            warning=f'<div class="warn">{html.escape(self.warning)}</div>' if self.warning else "",
            note=f'<div class="warn"><b>Note:</b> {html.escape(self.note)}</div>'
            if self.note
            else "",
            n_top=len(self.tops),
            tops=tops,
            explained=explained,
            pca_links="Also: " + ", ".join(links) if links else "",
            pca_div=f'<div class="plot">{self.pca_div}</div>',
            labels=", ".join(html.escape(n) for n in self.labels),
        )
