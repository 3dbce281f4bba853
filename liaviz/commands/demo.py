"""`liaviz demo --out out/demo`: the explorer's results rendered headless, with an index.html.

Uses the bundled model (or a small random-weight model, with a warning, when this install has
none; or ``--checkpoint`` such as the official vox.pt), the Grace Hopper portrait that ships with
matplotlib (or ``--image``) and synthetic talking-head clips (or ``--driving``). Nothing is
downloaded.
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
from .animate import add_precision_option, apply_precision


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
        "(default: the bundled synthetic-faces-64)",
    )
    p.add_argument("--image", help="source portrait (default: Grace Hopper, from matplotlib)")
    p.add_argument(
        "--driving",
        action="append",
        help="driving video (repeat for several; default: two synthetic talking-head clips)",
    )
    p.add_argument("--frames", type=int, default=48, help="frames per driving clip (default 48)")
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
    from .. import analysis as A
    from ..animate import animate
    from ..io import VideoWriter, read_image, read_video

    if args.frames < 2:
        raise UserError(f"--frames must be at least 2, got {args.frames}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    step = _Steps(6)

    step("loading the model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # printed below, once, as a WARNING line
        model, warning = A.load_demo_model(args.checkpoint)
    if warning:
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    size, m = model.config.size, model.config.motion_dim
    args.precision = apply_precision(args, next(model.parameters()).device)
    label = args.checkpoint or (A.EMBEDDED_MODEL if not warning else "random weights (stand-in)")
    step.done(f"{label}: {size}x{size}, {m} directions")

    step("reference image, flows and masks")
    portrait = read_image(args.image) if args.image else A.sample_portrait()
    source = A.prepare_image(model, portrait)
    A.write_bytes_atomic(out / "source.png", A.encode_png(source, 6))
    state = A.encode(model, source)
    arrays = A.reference_arrays(model, source, args.precision)
    A.save_figure(A.reference_figure(arrays), out / "reference.png")
    step.done("source.png, reference.png")

    step(f"sweep grid: {m} directions x {len(A.DEFAULT_VALUES)} magnitudes")
    fig = A.sweep_grid(
        model, state, values=A.DEFAULT_VALUES, precision=args.precision, progress=True
    )
    A.save_figure(fig, out / "sweep.png", dpi=max(100, size * 1.1))
    step.done("sweep.png")

    step("magnitudes of the driving clips, and their PCA")
    if args.driving:
        videos = {Path(p).stem: read_video(p, max_frames=args.frames) for p in args.driving}
    else:
        videos = {
            f"synthetic clip {i + 1}": A.sample_driving(size, args.frames, index=i)
            for i in range(2)
        }
    mags = A.video_magnitudes(model, videos, keep_frames=True, progress=True)
    result = A.fit_pca(mags)
    pca_files, pca_div = _write_pca(out, result, mags)
    step.done(", ".join(pca_files))

    step("edit, then animate: the most-used direction, swept and driven")
    top = int(A.order_by_variance(mags)[0])
    A.write_sweep(model, state, top, out / "sweep_top.gif", precision=args.precision)
    driving = mags.frames[mags.video == 0]
    frames = np.stack(
        list(
            animate(model, state, driving, mode="relative", precision=args.precision, progress=True)
        )
    )
    side = np.concatenate([driving, frames], axis=2)
    with VideoWriter(out / "animation.mp4", fps=12) as w:
        w.write_many(A.upscale(side, 256))
    with VideoWriter(out / "animation.gif", fps=12) as w:
        w.write_many(side)
    step.done(f"sweep_top.gif (d{top + 1}), animation.mp4, animation.gif")

    step("index.html")
    _write_index(out, label, warning, model, result, top, pca_files, pca_div)
    step.done(f"open {out / 'index.html'}")
    return 0


def _write_pca(out: Path, result, mags) -> tuple[list[str], str]:
    """Interactive HTML (2D with colour buttons, 3D), a matplotlib PNG, and a plotly PNG when
    kaleido and a Chromium are installed."""
    from .. import analysis as A
    from ..explore.figures import pca_scatter, with_color_buttons, write_html

    files = []
    fig2 = with_color_buttons(pca_scatter(result, mags, 2), mags)
    # the same plot inline in index.html, sharing the plotly.min.js that write_html puts there
    div = fig2.to_html(full_html=False, include_plotlyjs="directory")
    write_html(fig2, out / "pca.html")
    files.append("pca.html")
    if result.n_components >= 3:
        write_html(with_color_buttons(pca_scatter(result, mags, 3), mags), out / "pca_3d.html")
        files.append("pca_3d.html")
    A.save_figure(A.pca_figure(result, mags), out / "pca_matplotlib.png")
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
            A.write_bytes_atomic(
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
<p>Model: <b>{label}</b> ({size}&times;{size}, {m} directions). {warning}</p>
<p>LIA (Wang et al., ICLR 2022) encodes a face into a latent code and moves that code along a
small dictionary of learned, orthonormal <em>motion directions</em> d<sub>1</sub>..d<sub>{m}</sub>;
the decoder turns each code into flow fields that warp the source. This page shows what each
direction does. The interactive version is <code>make lab</code> (notebook
<code>notebooks/explore_directions.ipynb</code>).</p>

<h2>Reference image (paper Fig. 5)</h2>
<figure><img src="reference.png" style="max-width:100%" alt="reference view">
<figcaption>The reference image x<sub>r</sub> decodes the code z<sub>s&rarr;r</sub> with no motion
added: the source in the model's canonical pose. Below: the flow field (colour = direction,
paler = smaller shift) and mask (white = warped source features) at each decoder scale.
</figcaption></figure>

<h2>Sweep grid (paper Fig. 6)</h2>
<figure><img src="sweep.png" style="max-width:100%" alt="sweep grid">
<figcaption>Row i moves the source's code along d<sub>i</sub> alone,
z = z<sub>s&rarr;s</sub> + a&middot;d<sub>i</sub>; the outlined column (a = 0) is the
reconstruction.</figcaption></figure>

<h2>PCA of motion magnitudes</h2>
<p>Each frame of the driving clips encodes to magnitudes A (one per direction). Their principal
components show which combinations of directions real motion uses.
Explained variance: {explained}.</p>
{pca_div}
<p>{pca_links}</p>

<h2>Edit, then animate</h2>
<div class="row">
<figure><img src="sweep_top.gif" class="px" width="192" alt="sweep of the top direction">
<figcaption>d<sub>{top}</sub>, the direction that varies most over the clips, swept
0 &rarr; +3 &rarr; &minus;3 &rarr; 0</figcaption></figure>
<figure><img src="animation.gif" class="px" width="384" alt="animation">
<figcaption>driving clip (left) and the source animated by it, relative mode (eq. 12).
<a href="animation.mp4">MP4</a></figcaption></figure></div>
<p>Use your own media: <code>liaviz demo --image me.jpg --driving talk.mp4 --checkpoint vox.pt</code>.</p>
</body></html>
"""


def _write_index(
    out: Path, label, warning, model, result, top: int, pca_files, pca_div: str
) -> None:
    from .. import analysis as A

    explained = ", ".join(f"PC{k + 1} {100 * r:.0f}%" for k, r in enumerate(result.explained[:5]))
    links = [f'<a href="{f}">{f}</a>' for f in pca_files if f != "pca.html"]
    page = _PAGE.format(
        label=html.escape(str(label)),
        size=model.config.size,
        m=model.config.motion_dim,
        warning=f'<div class="warn">{html.escape(warning)}</div>' if warning else "",
        explained=explained,
        pca_links="Also: " + ", ".join(links) if links else "",
        top=top + 1,
        pca_div=f'<div class="plot">{pca_div}</div>',
    )
    A.write_bytes_atomic(out / "index.html", page.encode("utf-8"))
