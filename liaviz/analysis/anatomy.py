"""What each motion direction does, measured from the decoder's flow fields (no landmarks).

For a source s with magnitudes A_s, a step along d_i changes the code by +-h d_i; the decoder's
coarsest flow field (absolute sampling positions, ``SynthesisOutput.flows[0]``, 8x8, resampled
bilinearly to the image size) changes by dF_i = (F(A_s + h e_i) - F(A_s - h e_i)) / 2h per unit
of magnitude. The coarsest level is the one that moves the head as a whole: the decoder refines
the picture level by level, and on the embedded model the finest flow is mostly local
correction (its fits left 50-80% of the energy unexplained for every direction, labelling all 20
"local"), while the coarsest gives the pose directions' renderer factor (tx, ty, scale) as
their largest share. ``level=-1`` in ``analyze_directions`` reads the finest instead. dF_i is split, by weighted
least squares, into four global similarity fields about the image centre (x, y in [-1, 1]):

    translate_x (1, 0)    translate_y (0, 1)    rotate (-y, x)    scale (x, y)

and a local residual. The fit is weighted by where a flow change can be seen and where things
move: w(p) = (|grad I_s(p)|^2 + floor) * support(p). The first factor is the source's squared
image gradient (Sobel; the image changes by about -grad I . dF, so flow over flat areas is
invisible, and training leaves it unconstrained); the second is the *motion support*, the
source's motion density (the mean over the analysed directions of each one's |dF_i|^2,
normalised to mean 1) clipped to at most 1: 1 wherever the model moves things, lower where
nothing moves. A head that moves over a still background is fitted on the head, so it is still a
translation; a mouth that opens is fitted against the whole moving head, so it stays local.

Shares are fractions of the direction's weighted flow energy E = sum_p w(p) |dF(p)|^2: ``local``
is the residual's energy; the fitted part's energy (E - local, the residual being w-orthogonal to
the fit) is split among the four components in proportion to c_k^2 ||b_k||_w^2, so the four
global shares and ``local`` add up to 1. ``region`` is the box [x0, y0, x1, y1] (normalised image
coordinates, 0-1, y down) between the 10% and 90% quantiles of the residual's weighted energy
w(p) |r(p)|^2, which is also the heat map.

Label rules (``label_direction``): "still" when a direction moves less than 1% of the energy of
the strongest one; "local: <where>" when the local share is at least 0.5 (<where> from the box
centre: upper / mid / lower face, with "left" / "right" off the middle third); otherwise the
largest global component ("shift x", "shift y", "roll", "zoom"), joined by the second one with
" + " when that holds at least half as much energy, and " + local" when the local share is at
least 0.3.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError
from ..io import to_uint8
from ..io.atomic import write_text
from ..nn import LIA
from ..numeric import float32, integer
from ..plain_data import NotPlainData, check_plain
from ..progress import progress_bar
from ..runtime.source import encode_source, source_tensor
from . import ENCODE_PRECISION
from .edits import check_directions
from .flow_fit import COMPONENTS, decompose_flow, fit_weights, weighted_box

SHORT_NAMES = {
    "translate_x": "shift x",
    "translate_y": "shift y",
    "rotate": "roll",
    "scale": "zoom",
}
FLOW_LEVEL = 0  # the decoder level whose flow is decomposed: the coarsest (module notes)
STILL_FRACTION = 0.01  # below this fraction of the strongest direction's energy: "still"
LOCAL_LABEL = 0.5  # local share from which a direction is labelled "local: ..."
LOCAL_SUFFIX = 0.3  # local share from which a global label gets " + local"
SECOND_COMPONENT = 0.5  # a second global component is named when it has this much of the first's
ANATOMY_FORMAT_VERSION = 1


class AnatomyError(UserError, ValueError):
    """Bad input to the direction anatomy (wrong shapes, unreadable anatomy file)."""


# ---- labels and presets ------------------------------------------------------------------------


def region_name(region: Sequence[float]) -> str:
    """'upper face', 'mid face, left', ... from a box's centre."""
    x0, y0, x1, y1 = region
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    name = "upper face" if cy < 0.38 else "mid face" if cy < 0.62 else "lower face"
    if cx < 0.38:
        name += ", left"
    elif cx > 0.62:
        name += ", right"
    return name


def label_direction(
    shares: dict[str, float], local: float, region: Sequence[float], strength: float = 1.0
) -> str:
    """The suggested label (see the module docstring for the rules). ``strength``: this
    direction's flow energy over the strongest direction's."""
    if strength < STILL_FRACTION:
        return "still"
    if local >= LOCAL_LABEL:
        return f"local: {region_name(region)}"
    ranked = sorted(COMPONENTS, key=lambda k: -shares[k])
    label = SHORT_NAMES[ranked[0]]
    if shares[ranked[1]] >= SECOND_COMPONENT * shares[ranked[0]]:
        label += " + " + SHORT_NAMES[ranked[1]]
    if local >= LOCAL_SUFFIX:
        label += " + local"
    return label


# ---- results -----------------------------------------------------------------------------------


@dataclass
class DirectionAnatomy:
    """One direction d_i: where its flow change goes."""

    index: int  # 1-based, as in the paper
    label: str
    shares: dict[str, float]  # global shares by component (JSON key "global")
    local: float
    region: list[float]  # [x0, y0, x1, y1] of the local motion, normalised
    motion: dict[str, float]  # mean image motion per unit magnitude (see ``to_dict``)
    rms_px: float  # w-weighted RMS of dF per unit magnitude, in pixels of the model's size
    strength: float  # flow energy / the strongest direction's
    heat: np.ndarray | None = field(default=None, repr=False)  # (r, r) residual energy map
    flow: np.ndarray | None = field(default=None, repr=False)  # (r, r, 2) mean dF (1st image)

    @property
    def global_share(self) -> float:
        return float(sum(self.shares.values()))

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "label": self.label,
            "global": {k: round(float(self.shares[k]), 4) for k in COMPONENTS},
            "local": round(float(self.local), 4),
            "region": [round(float(v), 4) for v in self.region],
            # image motion per unit of magnitude: shifts as fractions of the frame (+ right,
            # + down), rotation in degrees (+ clockwise), scale as a relative zoom (+ larger)
            "motion": {k: round(float(v), 6) for k, v in self.motion.items()},
            "rms_px": round(float(self.rms_px), 4),
            "strength": round(float(self.strength), 4),
        }


@dataclass
class Anatomy:
    """Every analysed direction, and how it was measured."""

    directions: list[DirectionAnatomy]
    size: int  # model size (pixels)
    step: float  # h: the central-difference step along each direction
    n_images: int
    diagnostics: dict = field(default_factory=dict)  # see ``liaviz.analysis.diagnostics``

    def labels(self) -> list[str]:
        return [d.label for d in self.directions]

    def to_dict(self) -> dict:
        return {
            "format": ANATOMY_FORMAT_VERSION,
            "size": self.size,
            "step": self.step,
            "n_images": self.n_images,
            "components": list(COMPONENTS),
            "directions": [d.to_dict() for d in self.directions],
            "diagnostics": self.diagnostics,
        }


def preset_mute(anatomy: Anatomy, keep: Literal["pose", "expression"]) -> list[int]:
    """The directions (1-based) to mute so that only ``keep`` is transferred: "pose" keeps the
    directions dominated by global components (global share >= 0.5), "expression" the others
    (local or still ones are never pose)."""
    if keep not in ("pose", "expression"):
        raise AnatomyError(f"preset must be 'pose' or 'expression', got {keep!r}")
    pose = {d.index for d in anatomy.directions if d.label != "still" and d.global_share >= 0.5}
    every = {d.index for d in anatomy.directions}
    kept = pose if keep == "pose" else every - pose
    return sorted(every - kept)


def direction_names(anatomy: Anatomy, motion_dim: int | None = None) -> list[str]:
    """The names the directions go by on sliders, sweep rows and pages: "d<i>: <label>" (i from
    1), the one place that decides it. With ``motion_dim``, one name per direction of a model
    with that many: those the anatomy does not cover keep "d<i>"."""
    if motion_dim is None:
        return [f"d{d.index}: {d.label}" for d in anatomy.directions]
    names = [f"d{i + 1}" for i in range(motion_dim)]
    for d in anatomy.directions:
        if not 1 <= d.index <= motion_dim:
            raise AnatomyError(
                f"the anatomy names direction {d.index}, this model has 1..{motion_dim}"
            )
        names[d.index - 1] = f"d{d.index}: {d.label}"
    return names


def write_anatomy(anatomy: Anatomy, path: str | os.PathLike) -> Path:
    """``directions.json`` (atomically)."""
    return write_text(path, json.dumps(anatomy.to_dict(), indent=1) + "\n", AnatomyError)


def load_anatomy(path: str | os.PathLike) -> Anatomy:
    """Read a ``directions.json`` written by ``write_anatomy`` (heat maps and flows are not kept):
    the one reader of that file (the explorer's slider names come from it too). Every field is
    checked: a duplicate index, a NaN or out-of-range share is an ``AnatomyError``."""
    try:
        data = json.loads(Path(path).read_text())
        check_plain(data, "the file")
        dirs = [_read_direction(d) for d in data["directions"]]
        indices = [d.index for d in dirs]
        repeated = sorted({i for i in indices if indices.count(i) > 1})
        if repeated:
            raise AnatomyError(f"direction {repeated[0]} is listed more than once")
        diagnostics = data.get("diagnostics", {})
        if not isinstance(diagnostics, dict):
            raise AnatomyError(f"diagnostics must be an object, got {diagnostics!r}")
        return Anatomy(
            dirs, integer(data["size"], "size", 16, 4096, AnatomyError),
            _share(data["step"], "step", 1e6), integer(data["n_images"], "n_images", 0, 2**31),
            diagnostics,
        )  # fmt: skip
    except OSError as e:
        raise AnatomyError(f"{path}: cannot read ({e.strerror or e})") from None
    except UserError as e:
        raise AnatomyError(f"{path}: not a valid directions.json ({e})") from None
    except (ValueError, KeyError, TypeError, RecursionError, NotPlainData) as e:
        raise AnatomyError(f"{path}: not a directions.json ({type(e).__name__}: {e})") from None


def _read_direction(d: dict) -> DirectionAnatomy:
    index = integer(d["index"], "a direction's index", 1, 1024, AnatomyError)
    if not isinstance(d["label"], str):
        raise AnatomyError(f"direction {index}: label must be text, got {d['label']!r}")
    where = f"direction {index}"
    return DirectionAnatomy(
        index=index,
        label=d["label"],
        shares={k: _share(d["global"][k], f"{where}: global {k}") for k in COMPONENTS},
        local=_share(d["local"], f"{where}: local"),
        region=[_share(v, f"{where}: region") for v in _four(d["region"], where)],
        motion={str(k): float32(v, f"{where}: motion {k}") for k, v in d.get("motion", {}).items()},
        rms_px=_share(d["rms_px"], f"{where}: rms_px", math.inf) if "rms_px" in d else math.nan,
        strength=_share(d["strength"], f"{where}: strength") if "strength" in d else math.nan,
    )


def _share(value: object, what: str, high: float = 1.0) -> float:
    """A finite number from 0 to ``high`` (shares, region corners, strengths, steps)."""
    number = float32(value, what, AnatomyError)
    if not 0.0 <= number <= high:
        raise AnatomyError(f"{what} must be from 0 to {high:g}, got {value!r}")
    return number


def _four(region: object, where: str) -> list:
    if not isinstance(region, list) or len(region) != 4:
        raise AnatomyError(f"{where}: region must be [x0, y0, x1, y1], got {region!r}")
    return region


# ---- measuring a model -------------------------------------------------------------------------


def default_images(size: int, n: int = 4, seed: int = 0) -> np.ndarray:
    """n synthetic faces (``liaviz.data.synthetic``) at neutral pose, uint8 (n, size, size, 3)."""
    from ..data.synthetic import Identity, render_face

    rng = np.random.default_rng(seed)
    return np.stack([render_face(Identity.sample(rng), {}, size=size) for _ in range(n)])


def flow_changes(
    model: LIA,
    image,
    step: float = 1.0,
    directions: Sequence[int] | None = None,
    level: int = FLOW_LEVEL,
) -> np.ndarray:
    """dF_i of one source for each 0-based direction: (K, S, S, 2), per unit of magnitude, in the
    decoder's sampling coordinates ([-1, 1] = the image width), from the decoder's flow at
    ``level`` (0 = coarsest, -1 = finest) resampled to the image size S. ``image``: anything
    ``liaviz.runtime.encode_source`` takes (a path, uint8 image, tensor or ``SourceState``)."""
    dirs = check_directions(model, directions)
    state = encode_source(model, image, precision=ENCODE_PRECISION)
    with torch.inference_mode():
        q = model.directions().to(state.latent.dtype)
        z0 = model.self_latent(state)
        steps = step * q[:, dirs].t()  # (K, D)
        z = torch.cat([z0 + steps, z0 - steps])
        flows = model.decode(state, z, return_flows=True).flows[level].float()
        size = model.config.size
        if flows.shape[1] != size:
            grid = flows.permute(0, 3, 1, 2)
            flows = F.interpolate(grid, size=(size, size), mode="bilinear", align_corners=False)
            flows = flows.permute(0, 2, 3, 1)
        flows = flows.cpu().numpy()
    k = len(dirs)
    return ((flows[:k] - flows[k:]) / (2.0 * step)).astype(np.float64)


def analyze_directions(
    model: LIA,
    images=None,
    step: float = 1.0,
    directions: Sequence[int] | None = None,
    progress: bool = False,
    level: int = FLOW_LEVEL,
) -> Anatomy:
    """Measure every direction (or the given 0-based ``directions``) around each source image.

    ``images``: paths, uint8 (H, W, 3) images or (1, 3, S, S) tensors, or a uint8 batch
    (N, H, W, 3); None renders four synthetic faces. Shares and motions are pooled over the
    images (energies summed, so a source on which a direction moves more counts more)."""
    if not step > 0 or not math.isfinite(step):
        raise AnatomyError(f"step must be a positive number, got {step}")
    if not model.config.motion_dictionary:
        raise AnatomyError("this model has no motion dictionary (motion_dictionary=False)")
    dirs = check_directions(model, directions)
    size = model.config.size
    if images is None:
        images = default_images(size)
    if isinstance(images, (str, os.PathLike)) or (
        isinstance(images, np.ndarray) and images.ndim == 3
    ):
        images = [images]
    images = list(images)
    if not images:
        raise AnatomyError("no source images given")
    k = len(dirs)
    comp = np.zeros((k, 4))
    local = np.zeros(k)
    total = np.zeros(k)
    motion = np.zeros((k, 4))
    heat = np.zeros((k, size, size))
    first_flow = None
    for image in progress_bar(images, enabled=progress, desc="direction anatomy", unit="image"):
        u8 = _as_uint8(model, image)
        deltas = flow_changes(model, u8, step, dirs, level)
        weights = fit_weights(deltas, u8)
        dec = decompose_flow(deltas, weights)
        comp += dec.shares * dec.energy[:, None]
        local += dec.local * dec.energy
        total += dec.energy
        motion += dec.coefficients * dec.energy[:, None]
        res = weights * (dec.residual**2).sum(-1)  # where the fit leaves motion unexplained
        heat += res / np.maximum(res.sum((1, 2), keepdims=True), 1e-30) * dec.energy[:, None, None]
        if first_flow is None:
            first_flow = deltas
    safe = np.where(total > 0, total, 1.0)
    comp, local, motion = comp / safe[:, None], local / safe, motion / safe[:, None]
    heat = heat / safe[:, None, None]
    strength = total / max(float(total.max()), 1e-30)
    rms_px = np.sqrt(total / len(images)) * size / 2
    out = []
    for j, d in enumerate(dirs):
        shares = {c: float(comp[j, n]) for n, c in enumerate(COMPONENTS)}
        region = weighted_box(heat[j])
        # flow changes are sampling positions: the image content moves the opposite way
        tx, ty, rot, sc = -motion[j]
        image_motion = {
            "translate_x": tx / 2,
            "translate_y": ty / 2,
            "rotate_deg": math.degrees(rot),
            "scale": sc,
        }
        out.append(
            DirectionAnatomy(
                index=d + 1,
                label=label_direction(shares, float(local[j]), region, float(strength[j])),
                shares=shares,
                local=float(local[j]),
                region=region,
                motion=image_motion,
                rms_px=float(rms_px[j]),
                strength=float(strength[j]),
                heat=heat[j],
                flow=first_flow[j],
            )
        )
    return Anatomy(out, size, float(step), len(images))


def mute_all_but(
    model: LIA,
    image,
    keep: Literal["pose", "expression"],
    anatomy: Anatomy | None = None,
    name: str = "the anatomy",
) -> list[int]:
    """The directions (1-based) to mute so that only ``keep`` is transferred (``preset_mute``),
    from ``anatomy`` (``name`` says where it came from) or measured on ``image``, the source as
    the model sees it (2M decodes)."""
    if anatomy is None:
        anatomy = analyze_directions(model, [image])
    if len(anatomy.directions) != model.config.motion_dim:
        raise AnatomyError(
            f"{name}: describes {len(anatomy.directions)} directions, the model has "
            f"{model.config.motion_dim}"
        )
    return preset_mute(anatomy, keep)


def _as_uint8(model: LIA, image) -> np.ndarray:
    """A source as the model sees it, uint8 (S, S, 3)."""
    return to_uint8(source_tensor(model, image).cpu())[0]


__all__ = [
    "COMPONENTS",
    "Anatomy",
    "AnatomyError",
    "DirectionAnatomy",
    "analyze_directions",
    "decompose_flow",
    "default_images",
    "direction_names",
    "mute_all_but",
    "fit_weights",
    "flow_changes",
    "label_direction",
    "load_anatomy",
    "preset_mute",
    "weighted_box",
    "write_anatomy",
]
