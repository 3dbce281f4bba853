"""``index.html`` of ``liaviz demo``: one file that opens anywhere, alone. Pictures are inline
(``liaviz.demo.inline``), plotly.js is inline once (a visible static fallback stands in when
scripts cannot run), the model card is rendered from its Markdown, and every direction carries
its anatomy name and one importance order (``liaviz.analysis.magnitudes.rank_directions``). Text is
never smaller than 12 px at 100% zoom: labels are HTML beside the pictures, not drawn in them."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import markdown
import numpy as np
from matplotlib.figure import Figure

from ..analysis.anatomy import SHORT_NAMES, Anatomy
from ..analysis.edits import DEFAULT_VALUES
from ..analysis.flows import ReferenceArrays, color_wheel, flow_changes_to_color
from . import inline


@dataclass
class Top:
    """One of the directions shown large: its sweep over the clips' range, looping."""

    rank: int
    direction: int  # 0-based
    name: str
    spread: float
    hi: float  # the sweep goes 0 -> +hi -> -hi -> 0
    frames: np.ndarray  # uint8 (T, S, S, 3)


@dataclass
class PageData:
    """Everything the page shows, filled step by step by ``build``."""

    label: str = ""
    size: int = 0
    m: int = 0
    warning: str | None = None
    note: str | None = None
    card: str | None = None  # the model card's Markdown
    source: np.ndarray | None = None
    reference: ReferenceArrays | None = None
    anatomy: Anatomy | None = None
    directions_json: Path | None = None
    names: list[str] = field(default_factory=list)
    order: list[int] = field(default_factory=list)
    spread: np.ndarray | None = None
    kind: str = ""
    basis: str = ""
    tops: list[Top] = field(default_factory=list)
    sweep: np.ndarray | None = None  # uint8 (M, len(DEFAULT_VALUES), S, S, 3) in ``order``
    pca: object = None
    pca_2d: object = None
    pca_3d: object = None
    pca_static: Figure | None = None
    pca_files: list[str] = field(default_factory=list)
    animation: np.ndarray | None = None
    n_frames: int = 0
    photo: list[np.ndarray] = field(default_factory=list)
    photo_note: str = ""


def _img(uri: str, alt: str, width: int, pixelated: bool = True, extra: str = "") -> str:
    cls = ' class="px"' if pixelated else ""
    return f'<img src="{uri}"{cls} width="{width}" alt="{html.escape(alt)}"{extra}>'


def _tops(p: PageData) -> str:
    return "".join(
        f"<figure>{_img(inline.animation(t.frames), t.name, 240)}"
        f"<figcaption><b>#{t.rank} {html.escape(t.name)}</b><br>{p.kind} {t.spread:.2f}, "
        f"a = &plusmn;{t.hi:g}</figcaption></figure>"
        for t in p.tops
    )


def _shares(d) -> str:
    parts = [f"{SHORT_NAMES[k]} {v:.2f}" for k, v in d.shares.items() if v >= 0.05]
    return ", ".join([*parts, f"local {d.local:.2f}"])


def _direction_rows(p: PageData) -> str:
    """One row per direction, most important first: its name and importance, where its local
    motion is on the portrait, its flow change, and its sweep (paper Fig. 6)."""
    by_index = {d.index - 1: d for d in p.anatomy.directions}
    flows = flow_changes_to_color([by_index[d].flow for d in p.order])
    head = "".join(f"<th>{v:+g}</th>" if v else '<th class="zero">0</th>' for v in DEFAULT_VALUES)
    rows = [
        "<tr><th>#</th><th>direction</th><th>local motion<br>on this portrait</th>"
        f"<th>flow<br>change</th>{head}</tr>"
    ]
    for rank, (d, flow, strip) in enumerate(zip(p.order, flows, p.sweep, strict=True), 1):
        a = by_index[d]
        heat = inline.heat_on_portrait(p.source, a.heat, a.region)
        cells = "".join(
            f"<td{' class=zero' if not v else ''}>{_img(inline.still(im), f'a={v:+g}', 72)}</td>"
            for v, im in zip(DEFAULT_VALUES, strip, strict=True)
        )
        rows.append(
            f"<tr><td>{rank}</td><td class=name><b>{html.escape(p.names[d])}</b><br>"
            f"{p.kind} {p.spread[d]:.2f}<br><span class=small>{_shares(a)}</span></td>"
            f"<td>{_img(inline.still(heat), 'heat map', 72)}</td>"
            f"<td>{_img(inline.still(flow, lossless=True), 'flow change', 72)}</td>{cells}</tr>"
        )
    return '<table class="sweep">' + "".join(rows) + "</table>"


def _reference(p: PageData) -> str:
    r = p.reference
    top = [
        (r.source, "source x<sub>s</sub>"),
        (r.reference, "reference x<sub>r</sub> = G(z<sub>s&rarr;r</sub>)"),
        (r.reconstruction, "reconstruction G(z<sub>s&rarr;s</sub>)"),
    ]
    first = "".join(
        f"<figure>{_img(inline.still(im), 'image', 128)}<figcaption>{cap}</figcaption></figure>"
        for im, cap in top
    )
    wheel = _img(inline.still(color_wheel(64), lossless=True), "colour wheel", 64, False)
    first += f"<figure>{wheel}<figcaption>flow colours</figcaption></figure>"
    flows = "".join(
        f"<figure>{_img(inline.still(f, lossless=True), f'flow {res}', 96)}"
        f"<figcaption>{res}&times;{res}: max {px * p.size / 2:.1f} px</figcaption></figure>"
        for f, res, px in zip(
            r.flows["reference"], r.resolutions, r.max_displacement["reference"], strict=True
        )
    )
    masks = "".join(
        f"<figure>{_img(inline.still(mk, lossless=True), f'mask {res}', 96)}"
        f"<figcaption>{res}&times;{res}</figcaption></figure>"
        for mk, res in zip(r.masks["reference"], r.resolutions, strict=True)
    )
    return (
        f'<div class="row">{first}</div>'
        f'<h3>flow of the reference decode, coarse to fine</h3><div class="row">{flows}</div>'
        f"<h3>mask: white = warped source features, black = generated</h3>"
        f'<div class="row">{masks}</div>'
    )


def _plotly() -> str:
    from plotly.offline import get_plotlyjs

    return f"<script>{get_plotlyjs()}</script>"


def _pca(p: PageData) -> str:
    buf = io.BytesIO()
    p.pca_static.savefig(buf, format="png", dpi=80, bbox_inches="tight", facecolor="white")
    static = inline.data_uri(buf.getvalue(), "image/png")
    divs = [p.pca_2d.to_html(full_html=False, include_plotlyjs=False, div_id="pca-2d")]
    if p.pca_3d is not None:
        divs.append(p.pca_3d.to_html(full_html=False, include_plotlyjs=False, div_id="pca-3d"))
    return (
        '<div class="plot"><div class="fallback"><p class="warn">The interactive plot could not '
        "run here (it needs JavaScript; plotly.js is inside this page). A static view:</p>"
        f"{_img(static, 'PCA of motion magnitudes', 720, False)}</div>"
        + "".join(divs)
        + "</div><script>if (window.Plotly) document.querySelectorAll('.fallback')"
        ".forEach(function (e) { e.style.display = 'none'; });</script>"
    )


def _card(p: PageData) -> str:
    if not p.card:
        return "<p>No model card for this checkpoint.</p>"
    body = markdown.markdown(p.card, extensions=["tables", "fenced_code"])
    return f'<div class="card">{body}</div>'


def render(p: PageData) -> str:
    """The page's HTML, one self-contained string."""
    explained = ", ".join(f"PC{k + 1} {100 * r:.0f}%" for k, r in enumerate(p.pca.explained[:5]))
    warn = (f'<div class="warn">{html.escape(p.warning)}</div>' if p.warning else "") + (
        f'<div class="warn"><b>Note:</b> {html.escape(p.note)}</div>' if p.note else ""
    )
    card_line = (
        'Model card: <a href="#model-card">below</a> (how it was trained, what it can do).'
        if p.card
        else "No model card for this checkpoint."
    )
    json_uri = inline.data_uri(p.directions_json.read_bytes(), "application/json")
    return _PAGE.format(
        label=html.escape(str(p.label)),
        size=p.size,
        m=p.m,
        card_line=card_line,
        warn=warn,
        basis=html.escape(p.basis),
        source=_img(inline.still(p.source, 256), "source", 160),
        n_top=len(p.tops),
        tops=_tops(p),
        rows=_direction_rows(p),
        json_uri=json_uri,
        reference=_reference(p),
        explained=explained,
        plotly=_plotly(),
        pca=_pca(p),
        animation=_img(inline.animation(p.animation), "animation", 512),
        photo=_img(inline.animation(p.photo, max_size=320), "photo animated in place", 320, False),
        photo_note=html.escape(p.photo_note),
        card=_card(p),
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>liaviz demo: LIA's motion directions</title>
<style>
 body {{ font-family: system-ui, sans-serif; font-size: 15px; max-width: 1120px; margin: 24px auto;
        padding: 0 16px; color: #222; line-height: 1.45; }}
 h1 {{ font-size: 24px; }} h2 {{ font-size: 19px; margin-top: 32px; border-bottom: 1px solid #ddd; }}
 h3 {{ font-size: 15px; margin: 12px 0 4px; }}
 sub, sup {{ font-size: 12px; }} code, pre {{ font-family: monospace; font-size: 13px; }}
 code {{ background: #f4f4f4; padding: 1px 4px; }} pre {{ background: #f4f4f4; padding: 8px;
        overflow-x: auto; }}
 .warn {{ background: #fff3cd; border: 1px solid #e0b000; padding: 8px 12px; border-radius: 4px; }}
 .row {{ display: flex; gap: 20px; flex-wrap: wrap; align-items: flex-start; }}
 figure {{ margin: 0; }} figcaption, .small, .caption {{ font-size: 13px; color: #555; }}
 img.px {{ image-rendering: pixelated; }}
 table.sweep {{ border-collapse: collapse; font-size: 13px; }}
 table.sweep th {{ font-weight: 600; padding: 2px 4px; }}
 table.sweep td {{ padding: 1px 2px; vertical-align: middle; }}
 table.sweep td.name {{ min-width: 190px; max-width: 230px; padding-right: 8px; }}
 table.sweep .zero {{ outline: 2px solid #d62728; outline-offset: -1px; }}
 table.sweep img {{ display: block; }}
 .plot {{ border: 1px solid #ddd; }}
 .card {{ border: 1px solid #ddd; padding: 4px 16px; overflow-x: auto; }}
 .card h1 {{ font-size: 20px; }} .card h2 {{ font-size: 17px; }}
 .card table {{ border-collapse: collapse; font-size: 13px; }}
 .card td, .card th {{ border: 1px solid #ddd; padding: 2px 6px; }}
</style></head><body>
<h1>liaviz demo: the motion directions of a Latent Image Animator</h1>
<div class="row"><figure>{source}<figcaption>the source</figcaption></figure>
<div style="flex:1;min-width:320px">
<p>Model: <b>{label}</b> ({size}&times;{size}, {m} directions). {card_line}</p>
{warn}
<p>LIA (Wang et al., ICLR 2022) encodes a face into a latent code and moves that code along a
small dictionary of learned, orthonormal <em>motion directions</em> d<sub>1</sub>..d<sub>{m}</sub>;
the decoder turns each code into flow fields that warp the source. This page shows what each
direction does, <b>most important first</b> ({basis}); the explorer
(<code>make lab</code>, notebook <code>notebooks/explore_directions.ipynb</code>) orders its
sliders by the same measure. Each direction's name is measured on the source above.</p>
</div></div>

<h2>The {n_top} most important directions</h2>
<div class="row">{tops}</div>
<p class="caption">Each clip moves the source's code along one direction alone,
z = z<sub>s&rarr;s</sub> + a&middot;d<sub>i</sub>, for a from 0 to +r, to &minus;r and back, where
r covers every frame of the clips (r = 1.1 &times; max(3&sigma;, max |A<sub>t</sub> &minus;
A<sub>s</sub>|), rounded up).</p>

<h2>Every direction, most important first: what it does, and its sweep (paper Fig. 6)</h2>
<p>Names are measured from the decoder's flow fields on this portrait, without landmarks
(<code>liaviz directions</code>): a step along each direction is split into a global similarity
(shift x, shift y, roll, zoom) and a local residual; the shares of its flow energy follow the
name. The heat map shows where the local motion is, drawn on the portrait (box: where it
concentrates); the flow change is coloured by direction (paler = smaller, one scale for all rows).
The sweep moves the code along the direction alone, z = z<sub>s&rarr;s</sub> +
a&middot;d<sub>i</sub>; the outlined column (a = 0) is the reconstruction.
<a href="{json_uri}" download="directions.json">directions.json</a></p>
{rows}

<h2>Reference image (paper Fig. 5)</h2>
<p>The code z<sub>s&rarr;r</sub> with no motion added decodes the source in the model's canonical
pose. Below it, the flow field at each decoder scale (colour = direction of the shift, paler =
smaller; its largest shift in pixels of the {size}&times;{size} image) and the mask (where each
scale uses the warped source features or generates).</p>
{reference}

<h2>PCA of motion magnitudes</h2>
<p>Each frame of the driving clips encodes to magnitudes A (one per direction). Their principal
components show which combinations of directions real motion uses.
Explained variance: {explained}.</p>
{plotly}
{pca}

<h2>Edit, then animate</h2>
<figure>{animation}
<figcaption>driving clip (left) and the source animated by it, relative mode (eq. 12).
</figcaption></figure>
<h2>A whole photo: the face animated in place</h2>
<figure>{photo}
<figcaption>The face is found (RetinaFace; {photo_note}), cropped as the model was trained
(eye-to-mouth 0.225 of the side, eyes at half height), animated by the first clip and pasted back
through a feathered mask; the rest of the photo is untouched. Default photo: NASA's portrait of
Eileen Collins (public domain).</figcaption>
</figure>
<p>This page holds everything it shows and can be shared alone. Beside it, <code>liaviz demo</code>
also wrote full-size files: <code>animation.mp4</code>, <code>photo.mp4</code> (at the photo's
own size), <code>sweep.png</code>, <code>sweep_top1.gif</code>..., <code>pca.html</code>,
<code>pca_3d.html</code>, <code>reference.png</code> and <code>directions.png</code>.
Use your own media: <code>liaviz demo --image me.jpg --photo group.jpg --driving talk.mp4
--checkpoint vox.pt</code>, <code>liaviz.demo.build(model, out=...)</code> in Python, or
<code>liaviz animate --source photo.jpg ...</code>.</p>

<h2 id="model-card">Model card</h2>
{card}
</body></html>
"""
