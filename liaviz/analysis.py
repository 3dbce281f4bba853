"""Headless analysis of LIA's motion space: edits, sweeps, magnitudes, PCA, flows, reference view.

Everything here returns numpy arrays or matplotlib figures; the widgets in ``liaviz.explore``
are thin views on these functions, so scripts and tests run the same code.

Paper notation (Wang et al., ICLR 2022, Sec. 3): a source s encodes to z_{s->r} (the code of its
canonical *reference* pose) and magnitudes A_s; the motion dictionary holds M orthonormal
directions d_i; a latent path is w = sum_i a_i d_i (eq. 6). An *edit* e (M,) moves the source's
own code along the directions, z = z_{s->s} + sum_i e_i d_i (the linear manipulation of Fig. 6),
so e = 0 reconstructs the source.
"""

from __future__ import annotations

import io as _io
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import matplotlib
import numpy as np
import torch
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure  # figures without pyplot: no GUI backend, no global state
from matplotlib.patches import Rectangle
from PIL import Image
from sklearn.decomposition import PCA

from .animate import DrivingVideo, default_batch_size
from .atomic import write_bytes
from .checkpoint import EMBEDDED_DEFAULT, load_model, pretrained_names
from .errors import UserError
from .io import Crop, iter_video, prepare, read_image, to_tensor, to_uint8
from .nn import LIA, LIAConfig, SourceState
from .nn.synthesis import identity_grid
from .precision import Precision, inference, resolve_precision

DEFAULT_VALUES = tuple(np.linspace(-3.0, 3.0, 9).round(6).tolist())
EMBEDDED_MODEL = EMBEDDED_DEFAULT  # the versioned name: labels say which model it is


class AnalysisError(UserError, ValueError):
    """Bad input to an analysis function (wrong shapes, unknown direction, empty video)."""


# ---- sources and rendering ----------------------------------------------------------------------


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def prepare_image(
    model: LIA, image: np.ndarray | str | os.PathLike, crop: Crop = "center"
) -> np.ndarray:
    """A path or uint8 (H, W, 3) image -> uint8 (S, S, 3) at the model's size."""
    if isinstance(image, (str, os.PathLike)):
        image = read_image(image)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise AnalysisError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    return prepare(image, model.config.size, crop)


def source_tensor(model: LIA, image, crop: Crop = "center") -> torch.Tensor:
    """A path, uint8 (H, W, 3) image or tensor (3|1x3, S, S) in [-1, 1] -> (1, 3, S, S) on the
    model's device."""
    if isinstance(image, SourceState):
        raise AnalysisError("need the source image itself here, not only its SourceState")
    if isinstance(image, torch.Tensor):
        x = image if image.dim() == 4 else image.unsqueeze(0)
        s = model.config.size
        if x.shape[0] != 1 or tuple(x.shape[1:]) != (3, s, s):
            raise AnalysisError(f"expected one image (1, 3, {s}, {s}), got {tuple(image.shape)}")
    else:
        x = to_tensor(prepare_image(model, image, crop))
    return x.to(model_device(model))


def encode(model: LIA, image, crop: Crop = "center") -> SourceState:
    """Encode a source once: a path, uint8 (H, W, 3) image, tensor (1|3, ...) in [-1, 1], or an
    existing ``SourceState`` (returned as is). The state is what every edit decodes against."""
    if isinstance(image, SourceState):
        return image
    with torch.inference_mode():
        return model.encode_source(source_tensor(model, image, crop))


def inference_context(model: LIA, precision: Precision | None):
    """``precision.inference`` on the model's device for a precision as the user gave it
    (``None`` or ``"auto"``: bfloat16 autocast where the device computes bf16 natively)."""
    device = model_device(model)
    return inference(device, resolve_precision(precision, device))


def decode_codes(
    model: LIA,
    state: SourceState,
    z: torch.Tensor,
    batch_size: int | None = None,
    precision: Precision | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Decode latent codes (N, D) against a cached source -> uint8 (N, S, S, 3), in batches."""
    batch_size = batch_size or default_batch_size(model)
    out = []
    bar = _progress(progress, "decoding", z.shape[0], unit="image")
    with inference_context(model, precision):
        for i in range(0, z.shape[0], batch_size):
            out.append(to_uint8(model.decode(state, z[i : i + batch_size])))
            bar.update(len(out[-1]))
    bar.close()
    return np.concatenate(out) if out else np.zeros((0, *_image_shape(model)), np.uint8)


def _as_edits(model: LIA, magnitudes) -> torch.Tensor:
    e = torch.as_tensor(np.asarray(magnitudes, dtype=np.float32))
    if e.dim() == 1:
        e = e[None]
    m = model.config.motion_dim
    if e.dim() != 2 or e.shape[1] != m:
        raise AnalysisError(f"edits must be (M,) or (N, M) with M={m}, got {tuple(e.shape)}")
    return e.to(model_device(model))


def edit_images(
    model: LIA,
    image,
    magnitudes,
    batch_size: int | None = None,
    precision: Precision | None = None,
    progress: bool = False,
) -> np.ndarray:
    """The source moved along the directions: z = z_{s->s} + sum_i e_i d_i (Fig. 6).

    ``magnitudes`` is one edit (M,) or a batch (N, M); returns uint8 (N, S, S, 3).
    """
    state = encode(model, image)
    e = _as_edits(model, magnitudes)
    with torch.inference_mode():
        z = model.edit_latent(state, e)
    return decode_codes(model, state, z, batch_size, precision, progress)


def edit_image(model: LIA, image, magnitudes, precision: Precision | None = None) -> np.ndarray:
    """One edited image, uint8 (S, S, 3). The headless counterpart of ``DirectionExplorer``."""
    return edit_images(model, image, magnitudes, batch_size=1, precision=precision)[0]


def _image_shape(model: LIA) -> tuple[int, int, int]:
    return (model.config.size, model.config.size, 3)


def _check_directions(model: LIA, directions: Iterable[int] | None) -> list[int]:
    m = model.config.motion_dim
    dirs = list(range(m)) if directions is None else [int(d) for d in directions]
    bad = [d for d in dirs if not 0 <= d < m]
    if bad:
        raise AnalysisError(
            f"direction index {bad[0]} out of range: this model has {m} (0..{m - 1})"
        )
    if not dirs:
        raise AnalysisError("no directions given")
    return dirs


def sweep_images(
    model: LIA,
    image,
    directions: Iterable[int] | None = None,
    values: Sequence[float] = DEFAULT_VALUES,
    batch_size: int | None = None,
    precision: Precision | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Each direction d_i alone at each magnitude: uint8 (len(directions), len(values), S, S, 3).

    ``directions`` are 0-based indices (default: all M); the source is encoded once and the
    distinct codes among the len(directions) * len(values) are decoded in batches.
    """
    state = encode(model, image)
    dirs = _check_directions(model, directions)
    vals = np.asarray(values, dtype=np.float32).reshape(-1)
    if vals.size == 0:
        raise AnalysisError("no sweep values given")
    e = np.zeros((len(dirs), vals.size, model.config.motion_dim), np.float32)
    for row, d in enumerate(dirs):
        e[row, :, d] = vals
    # Every direction at magnitude 0 is the same code (z_{s->s}): decode each distinct code once.
    codes, which = np.unique(e.reshape(-1, e.shape[-1]), axis=0, return_inverse=True)
    imgs = edit_images(model, state, codes, batch_size, precision, progress)[which.reshape(-1)]
    return imgs.reshape(len(dirs), vals.size, *imgs.shape[1:])


def mosaic(images: np.ndarray, gap: int = 2, fill: int = 255) -> np.ndarray:
    """(rows, cols, H, W, 3) uint8 -> one image with ``gap`` pixels between cells."""
    rows, cols, h, w, c = images.shape
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), fill, np.uint8)
    for r in range(rows):
        for k in range(cols):
            out[r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = images[r, k]
    return out


def direction_names(m: int, names: Sequence[str] | None = None) -> list[str]:
    """Display names d1..dM (1-based, as in the paper), or the given ones."""
    if names is None:
        return [f"d{i + 1}" for i in range(m)]
    names = [str(n) for n in names]
    if len(names) != m:
        raise AnalysisError(f"expected {m} direction names, got {len(names)}")
    return names


def sweep_grid(
    model: LIA,
    image,
    directions: Iterable[int] | None = None,
    values: Sequence[float] = DEFAULT_VALUES,
    names: Sequence[str] | None = None,
    batch_size: int | None = None,
    precision: Precision | None = None,
    cell_inches: float = 0.9,
    progress: bool = False,
) -> Figure:
    """The paper's Fig. 6 as one matplotlib figure: rows = directions, columns = magnitudes.

    The images are laid out as one mosaic (a single ``imshow``, fast even for 20 x 9 cells at
    256 px); the column of magnitude 0, the source's reconstruction, is outlined.
    """
    dirs = _check_directions(model, directions)
    labels = direction_names(model.config.motion_dim, names)
    vals = np.asarray(values, dtype=np.float32).reshape(-1)
    imgs = sweep_images(model, image, dirs, vals, batch_size, precision, progress)
    return grid_figure(imgs, [labels[d] for d in dirs], vals, cell_inches)


def grid_figure(
    images: np.ndarray, row_labels: Sequence[str], values: Sequence[float], cell_inches: float = 0.9
) -> Figure:
    """Lay out sweep images (rows, cols, H, W, 3) with row names and column magnitudes."""
    rows, cols, h, w, _ = images.shape
    gap = max(1, h // 32)
    grid = mosaic(images, gap)
    width, height = cols * cell_inches + 0.9, rows * cell_inches + 0.6
    fig = Figure(figsize=(width, height))
    # margins in inches: 0.8 left for the names, 0.5 on top for the magnitudes
    ax = fig.add_axes((0.8 / width, 0.1 / height, 1 - 0.9 / width, 1 - 0.6 / height))
    ax.imshow(grid, interpolation="nearest" if h < 128 else "antialiased")
    ax.set_xticks([k * (w + gap) + w / 2 for k in range(cols)])
    ax.set_xticklabels([f"{v:+g}" if v else "0" for v in values], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks([r * (h + gap) + h / 2 for r in range(rows)])
    ax.set_yticklabels(list(row_labels), fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    zero = [k for k, v in enumerate(values) if abs(float(v)) < 1e-9]
    for k in zero:
        ax.add_patch(
            Rectangle(
                (k * (w + gap) - gap / 2, -gap / 2),
                w + gap,
                grid.shape[0] + gap,
                fill=False,
                edgecolor="#d62728",
                linewidth=1.0,
            )
        )
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: float = 100) -> Path:
    """Write a figure atomically (temp file next to the target, then rename)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    buf = _io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", facecolor="white")
    return write_bytes_atomic(path, buf.getvalue())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise AnalysisError(f"{path}: folder {path.parent} does not exist")
    return write_bytes(path, data)


def encode_png(image: np.ndarray, compress_level: int = 1) -> bytes:
    """uint8 (H, W, 3) -> PNG bytes (low compression: encoding time matters for live views)."""
    buf = _io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(
        buf, format="PNG", compress_level=compress_level
    )
    return buf.getvalue()


def upscale(image: np.ndarray, min_size: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer factor until the image is >= ``min_size``
    (a 64 px model's output stays crisp in a 256 px view)."""
    factor = max(1, -(-min_size // max(image.shape[:2])))
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=-3), factor, axis=-2)


def write_sweep(
    model: LIA,
    image,
    direction: int,
    path: str | os.PathLike,
    values: Sequence[float] | None = None,
    fps: float = 12.0,
    batch_size: int | None = None,
    precision: Precision | None = None,
    base: np.ndarray | None = None,
    min_size: int | None = None,
) -> Path:
    """Write one direction's sweep as a looping GIF or MP4 (by the suffix), atomically.

    The default path goes 0 -> +3 -> -3 -> 0 so the clip loops without a jump. ``base`` (M,)
    is an edit the sweep is added to (the explorer's current sliders), zero by default.
    ``min_size`` enlarges the frames (nearest, integer factor) to at least that size.
    """
    from .io import VideoWriter  # imageio/av only when writing

    state = encode(model, image)
    (d,) = _check_directions(model, [direction])
    if values is None:
        up = np.linspace(0.0, 3.0, 13)
        values = np.concatenate([up, up[-2::-1], -up[1:], -up[-2:0:-1]])
    vals = np.asarray(values, np.float32).reshape(-1)
    e = np.zeros((vals.size, model.config.motion_dim), np.float32)
    if base is not None:
        e += np.asarray(base, np.float32).reshape(1, -1)
    e[:, d] += vals
    frames = edit_images(model, state, e, batch_size, precision)
    if min_size:
        frames = upscale(frames, min_size)
    with VideoWriter(path, fps=fps) as writer:
        writer.write_many(frames)
    return Path(path)


# ---- magnitudes over videos ---------------------------------------------------------------------


@dataclass
class MagnitudeSet:
    """Motion magnitudes A (N, M) of the frames of one or more videos, with where each came from."""

    alpha: np.ndarray  # (N, M) float32
    video: np.ndarray  # (N,) index into ``names``
    frame: np.ndarray  # (N,) frame index within its video
    names: list[str]
    frames: np.ndarray | None = None  # (N, S, S, 3) uint8 model-size frames, when kept

    def __len__(self) -> int:
        return self.alpha.shape[0]

    @property
    def time(self) -> np.ndarray:
        """Each frame's position in its own video, 0 (first) to 1 (last)."""
        t = np.zeros(len(self), np.float32)
        for v in range(len(self.names)):
            sel = self.video == v
            last = self.frame[sel].max() if sel.any() else 0
            t[sel] = self.frame[sel] / max(last, 1)
        return t

    def of(self, name: str) -> np.ndarray:
        """The magnitudes of one video, in frame order."""
        if name not in self.names:
            raise AnalysisError(f"no video named {name!r} (have {', '.join(self.names)})")
        return self.alpha[self.video == self.names.index(name)]


def frame_magnitudes(
    model: LIA,
    frames,
    batch_size: int = 16,
    crop: Crop = "center",
    keep_frames: bool = False,
    progress: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Magnitudes A (T, M) of driving frames: a path, uint8 (T, H, W, 3), an iterable of uint8
    frames, or a tensor (T, 3, S, S) in [-1, 1]. With ``keep_frames`` also the model-size frames
    (T, S, S, 3) uint8."""
    drive = DrivingVideo(frames, model.config.size, crop)
    kept, alphas = [], []
    bar = _progress(progress, "magnitudes", drive.n_frames)
    with torch.inference_mode():
        for u8, x in drive.batches(batch_size):
            alphas.append(model.encode_motion(x.to(model_device(model))).float().cpu().numpy())
            if keep_frames:
                kept.append(u8)
            bar.update(len(u8))
    bar.close()
    alpha = np.concatenate(alphas)
    if keep_frames:
        return alpha, np.concatenate(kept)
    return alpha


def _progress(enabled: bool, desc: str, total: int | None = None, unit: str = "frame"):
    if enabled:
        from tqdm.auto import tqdm

        return tqdm(desc=desc, unit=unit, total=total)

    class _Null:
        def update(self, n: int) -> None:
            pass

        def close(self) -> None:
            pass

    return _Null()


def _take(frames: Iterable[np.ndarray], stride: int, max_frames: int | None):
    n = 0
    for i, frame in enumerate(frames):
        if i % stride:
            continue
        yield frame
        n += 1
        if max_frames is not None and n >= max_frames:
            return


def video_magnitudes(
    model: LIA,
    videos,
    stride: int = 1,
    max_frames: int | None = None,
    keep_frames: bool = False,
    batch_size: int = 16,
    crop: Crop = "center",
    progress: bool = False,
) -> MagnitudeSet:
    """Magnitudes of every ``stride``-th frame (up to ``max_frames`` per video) of several videos.

    ``videos``: a mapping name -> video, or a sequence of videos (paths are named by their stem).
    A video is a path, uint8 (T, H, W, 3) array, or iterable of uint8 frames.
    """
    if stride < 1:
        raise AnalysisError(f"stride must be >= 1, got {stride}")
    if isinstance(videos, Mapping):
        items = list(videos.items())
    elif isinstance(videos, (str, os.PathLike)) or (
        isinstance(videos, np.ndarray) and videos.ndim == 4
    ):
        items = [(_video_name(videos, 0), videos)]
    else:
        items = [(_video_name(v, i), v) for i, v in enumerate(videos)]
    if not items:
        raise AnalysisError("no videos given")
    alphas, vids, idx, kept = [], [], [], []
    for v, (_, video) in enumerate(items):
        if isinstance(video, (str, os.PathLike)):
            frames = _take(iter_video(video), stride, max_frames)
        elif isinstance(video, (np.ndarray, torch.Tensor, Sequence)):
            frames = video[::stride][:max_frames]  # stays sized: the progress bar knows its total
        else:
            frames = _take(video, stride, max_frames)
        res = frame_magnitudes(model, frames, batch_size, crop, keep_frames, progress)
        alpha, f = res if keep_frames else (res, None)
        alphas.append(alpha)
        vids.append(np.full(len(alpha), v))
        idx.append(np.arange(len(alpha)) * stride)
        if f is not None:
            kept.append(f)
    return MagnitudeSet(
        np.concatenate(alphas).astype(np.float32),
        np.concatenate(vids),
        np.concatenate(idx),
        [str(name) for name, _ in items],
        np.concatenate(kept) if keep_frames else None,
    )


def split_videos(folder: str | os.PathLike, limit: int | None = None) -> dict[str, Path]:
    """The clips of a dataset split in the FOMM layout (``ROOT/test``: frame folders or video
    files) as ``{name: path}``, ready for ``video_magnitudes`` (e.g. to order the explorer's
    sliders by a whole test split). ``limit`` keeps the first clips, in name order."""
    from .data.fomm import scan_split

    clips = scan_split(Path(folder))[:limit]
    return {(c.path.name if c.frames else c.path.stem): c.path for c in clips}


def _video_name(video, i: int) -> str:
    if isinstance(video, (str, os.PathLike)):
        return Path(video).stem
    return f"video {i + 1}"


def _alpha_of(alpha) -> np.ndarray:
    a = alpha.alpha if isinstance(alpha, MagnitudeSet) else np.asarray(alpha, np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise AnalysisError(f"need magnitudes (N, M) of at least 2 frames, got shape {a.shape}")
    return np.asarray(a, np.float64)


def direction_variance(alpha) -> np.ndarray:
    """Variance of each magnitude a_i over the frames: how much each d_i is used. (M,)"""
    return _alpha_of(alpha).var(axis=0)


def encoder_gain(model: LIA) -> np.ndarray:
    """How strongly the encoder's motion head reads each magnitude: the norm of row i of the
    linear map latent -> A (M,). A data-free importance, for when no clips are given."""
    fc = model.enc.fc
    d = model.config.latent_dim
    with torch.inference_mode():
        x = torch.cat([torch.zeros(1, d), torch.eye(d)]).to(model_device(model))
        out = fc(x).float()
        weight = out[1:] - out[:1]  # (D, M): the map without its bias
    return weight.norm(dim=0).cpu().numpy().astype(np.float64)


def order_by_variance(alpha) -> np.ndarray:
    """Direction indices, the most varying first (ties keep index order): a slider order."""
    return np.argsort(-direction_variance(alpha), kind="stable")


def motion_from_frame(model: LIA, image, frame) -> np.ndarray:
    """The edit e (M,) that gives a driving frame's motion to the source: e = A_frame - A_s.

    Then z_{s->s} + w(e) = z_{s->r} + w(A_frame), the absolute transfer of eq. 11.
    """
    state = encode(model, image)
    frame = np.asarray(frame)
    if frame.ndim != 3:
        raise AnalysisError(f"expected one uint8 (H, W, 3) frame, got shape {frame.shape}")
    alpha = frame_magnitudes(model, frame[None])
    return (alpha[0] - state.alpha[0].float().cpu().numpy()).astype(np.float32)


def random_edit(
    m: int, scale: float = 1.0, limit: float = 3.0, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """A random edit e ~ N(0, scale^2) per direction, clipped to +-``limit`` (a slider range)."""
    rng = np.random.default_rng(rng)
    return np.clip(rng.normal(0.0, scale, m), -limit, limit).astype(np.float32)


# ---- PCA of magnitudes (GANSpace-style axes in the d_i basis) -----------------------------------


@dataclass
class PCAResult:
    """PCA of magnitudes. ``components`` (k, M) are unit vectors in the d_i basis; ``std`` (k,)
    is each component's standard deviation; ``scores`` (N, k) the frames' coordinates."""

    pca: PCA
    scores: np.ndarray
    components: np.ndarray = field(init=False)
    mean: np.ndarray = field(init=False)
    explained: np.ndarray = field(init=False)  # ratio of variance, (k,)
    std: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.components = self.pca.components_.astype(np.float64)
        self.mean = self.pca.mean_.astype(np.float64)
        self.explained = self.pca.explained_variance_ratio_.astype(np.float64)
        self.std = np.sqrt(np.maximum(self.pca.explained_variance_, 0.0)).astype(np.float64)

    @property
    def n_components(self) -> int:
        return self.components.shape[0]


def fit_pca(alpha, n_components: int | None = None) -> PCAResult:
    """PCA (scikit-learn) of magnitudes (N, M) or a ``MagnitudeSet``."""
    a = _alpha_of(alpha)
    k = min(a.shape) if n_components is None else int(n_components)
    if not 1 <= k <= min(a.shape):
        raise AnalysisError(f"n_components must be 1..{min(a.shape)} for {a.shape[0]} frames")
    pca = PCA(n_components=k, svd_solver="full").fit(a)
    return PCAResult(pca, pca.transform(a))


def pcs_to_directions(result: PCAResult, pcs, in_std: bool = True) -> np.ndarray:
    """Coordinates along the principal components (..., k') -> an edit in the d_i basis (..., M).

    ``in_std``: coordinates are in standard deviations of each component (slider units);
    k' <= k leading components are used. The edit is an offset (no mean), e = sum_j c_j s_j v_j.
    """
    c = np.asarray(pcs, np.float64)
    k = c.shape[-1]
    if k > result.n_components:
        raise AnalysisError(f"{k} PC coordinates given, the PCA has {result.n_components}")
    if in_std:
        c = c * result.std[:k]
    return (c @ result.components[:k]).astype(np.float32)


def directions_to_pcs(result: PCAResult, edit, in_std: bool = True) -> np.ndarray:
    """An edit in the d_i basis (..., M) -> its PC coordinates (..., k) (the inverse map on the
    span of the components; the rest of the edit is dropped)."""
    c = np.asarray(edit, np.float64) @ result.components.T
    if in_std:
        c = c / np.where(result.std > 0, result.std, 1.0)
    return c


def pca_figure(
    result: PCAResult,
    mags: MagnitudeSet | None = None,
    dims: tuple[int, int] = (0, 1),
    color: Literal["video", "time"] = "video",
) -> Figure:
    """Static scatter of the frames on two principal components, and the explained variance."""
    i, j = dims
    if max(i, j) >= result.n_components:
        raise AnalysisError(f"the PCA has {result.n_components} components, asked for {dims}")
    fig = Figure(figsize=(9.0, 4.0))
    ax, bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    video = mags.video if mags is not None else np.zeros(len(result.scores), int)
    names = mags.names if mags is not None else ["frames"]
    time = mags.time if mags is not None else np.linspace(0, 1, len(result.scores))
    cmap = matplotlib.colormaps["tab10"]
    markers = "osD^vPX*"
    for v, name in enumerate(names):
        sel = video == v
        xs, ys = result.scores[sel, i], result.scores[sel, j]
        mk = markers[v % len(markers)]
        ax.plot(xs, ys, "-", color=cmap(v % 10), alpha=0.25, linewidth=0.8)
        if color == "time":
            sc = ax.scatter(
                xs, ys, c=time[sel], cmap="viridis", vmin=0, vmax=1, s=14, marker=mk, label=name
            )
        else:
            ax.scatter(xs, ys, color=cmap(v % 10), s=14, marker=mk, label=name)
    if color == "time":
        fig.colorbar(sc, ax=ax, label="time in video")
    if len(names) > 1 or color == "video":
        ax.legend(fontsize=8, loc="best")
    ax.set_xlabel(f"PC{i + 1} ({100 * result.explained[i]:.1f}% of variance)")
    ax.set_ylabel(f"PC{j + 1} ({100 * result.explained[j]:.1f}% of variance)")
    ax.set_title("motion magnitudes A, projected on principal components", fontsize=10)
    k = np.arange(1, result.n_components + 1)
    bar.bar(k, 100 * result.explained, color="#4c72b0")
    bar.plot(k, 100 * np.cumsum(result.explained), "o-", color="#dd8452", markersize=3)
    bar.set_xlabel("principal component")
    bar.set_ylabel("% of variance (bars), cumulative (line)")
    bar.set_ylim(0, 102)
    fig.tight_layout()
    return fig


# ---- flows, masks and the reference image (Fig. 5) ----------------------------------------------


def flow_displacement(flow: torch.Tensor | np.ndarray) -> np.ndarray:
    """Absolute sampling positions (r, r, 2) in [-1, 1] -> displacement from the identity grid,
    in units of the image half-width (2 = the full width)."""
    f = torch.as_tensor(
        np.asarray(flow, np.float32) if not isinstance(flow, torch.Tensor) else flow
    )
    f = f.detach().float().cpu()
    if f.dim() == 4:
        if f.shape[0] != 1:
            raise AnalysisError("flow_displacement takes one flow field (r, r, 2)")
        f = f[0]
    if f.dim() != 3 or f.shape[-1] != 2 or f.shape[0] != f.shape[1]:
        raise AnalysisError(f"expected a flow field (r, r, 2), got {tuple(f.shape)}")
    return (f - identity_grid(f.shape[0])[0]).numpy()


def flow_to_color(flow, max_norm: float | None = None) -> np.ndarray:
    """A flow field as a colour-wheel image, uint8 (r, r, 3): hue = direction of the
    displacement, saturation = its length (white = no motion). ``max_norm`` fixes the scale
    (default: the field's own largest displacement)."""
    d = flow_displacement(flow)
    mag = np.hypot(d[..., 0], d[..., 1])
    norm = max_norm if max_norm is not None else float(mag.max())
    norm = norm if norm > 1e-12 else 1.0
    hsv = np.empty((*mag.shape, 3), np.float64)
    hsv[..., 0] = (np.arctan2(d[..., 1], d[..., 0]) / (2 * np.pi)) % 1.0
    hsv[..., 1] = np.clip(mag / norm, 0.0, 1.0)
    hsv[..., 2] = 1.0
    return (hsv_to_rgb(hsv) * 255).round().astype(np.uint8)


def color_wheel(size: int = 64) -> np.ndarray:
    """The legend of ``flow_to_color``: a disc where each point is coloured as that displacement."""
    axis = np.linspace(-1.0, 1.0, size)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    grid = identity_grid(size)[0].numpy()
    flow = grid + np.stack([x, y], -1)
    img = flow_to_color(flow, max_norm=1.0)
    img[np.hypot(x, y) > 1.0] = 255
    return img


def mask_to_image(mask) -> np.ndarray:
    """A mask (1, r, r) or (r, r) in (0, 1) -> uint8 gray (r, r, 3)."""
    m = torch.as_tensor(mask).detach().float().cpu().reshape(mask.shape[-2], mask.shape[-1])
    g = (m.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return np.repeat(g[..., None], 3, axis=-1)


@dataclass
class ReferenceArrays:
    """The source, its reference image x_r = G(z_{s->r}) and reconstruction G(z_{s->s}), and per
    decoder level (coarse to fine) the flow fields (colour wheel) and masks of each decode."""

    source: np.ndarray
    reference: np.ndarray
    reconstruction: np.ndarray
    resolutions: list[int]
    flows: dict[str, list[np.ndarray]]  # "reference" / "reconstruction" -> [(r, r, 3) uint8]
    masks: dict[str, list[np.ndarray]]
    max_displacement: dict[str, list[float]]


def reference_arrays(model: LIA, image, precision: Precision | None = None) -> ReferenceArrays:
    """Everything ``ReferenceView`` shows, as arrays (the paper's Fig. 5 plus the flow pyramid)."""
    x = source_tensor(model, image)
    state = encode(model, x)
    with inference_context(model, precision):
        z = torch.cat([model.reference_latent(state), model.self_latent(state)])
        out = model.decode(state, z, return_flows=True)
    source = to_uint8(x)
    images = to_uint8(out.image)
    flows, masks, norms = {}, {}, {}
    for b, key in enumerate(("reference", "reconstruction")):
        flows[key] = [flow_to_color(f[b]) for f in out.flows]
        masks[key] = [mask_to_image(m[b]) for m in out.masks]
        norms[key] = [
            float(np.hypot(*np.moveaxis(flow_displacement(f[b]), -1, 0)).max()) for f in out.flows
        ]
    return ReferenceArrays(
        source[0], images[0], images[1], list(model.config.resolutions), flows, masks, norms
    )


def reference_figure(arrays: ReferenceArrays, code: str = "reference") -> Figure:
    """Static version of ``ReferenceView``: source, x_r, reconstruction, then flows and masks."""
    if code not in arrays.flows:
        raise AnalysisError(f"code must be one of {', '.join(arrays.flows)}, got {code!r}")
    n = len(arrays.resolutions)
    cols = max(n, 4)
    fig = Figure(figsize=(1.7 * cols, 1.8 * 3))
    axes = fig.subplots(3, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    top = [
        (arrays.source, "source x_s"),
        (arrays.reference, "reference x_r = G(z_s→r)"),
        (arrays.reconstruction, "reconstruction G(z_s→s)"),
        (color_wheel(96), "flow colours"),
    ]
    for ax, (img, title) in zip(axes[0], top, strict=False):
        ax.imshow(img)
        ax.set_title(title, fontsize=8)
    for k, r in enumerate(arrays.resolutions):
        axes[1, k].imshow(arrays.flows[code][k], interpolation="nearest")
        axes[1, k].set_title(
            f"flow {r}x{r} (max {arrays.max_displacement[code][k]:.2f})", fontsize=7
        )
        axes[2, k].imshow(arrays.masks[code][k], interpolation="nearest")
        axes[2, k].set_title(f"mask {r}x{r}", fontsize=7)
    for row, (name, what) in enumerate(
        [
            ("flow", "hue = direction,\npaler = smaller"),
            ("mask", "white = warped,\nblack = generated"),
        ],
        start=1,
    ):  # the rows say what they hold, at their left
        axes[row, 0].text(
            -0.12,
            0.5,
            f"{name}\n({what})",
            transform=axes[row, 0].transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=7,
        )
    fig.suptitle(f"flow fields and masks of the {code} decode, coarse to fine", fontsize=9)
    fig.tight_layout()
    return fig


# ---- sample media and a model to explore without any downloads ----------------------------------


SAMPLE_PORTRAIT = Path(__file__).parent / "assets" / "mona_lisa.png"


def sample_portrait() -> np.ndarray:
    """The Mona Lisa (Leonardo da Vinci, public domain), a 256x256 crop of the face that ships
    with liaviz (``liaviz/assets``): the explorer's and the demo's default portrait."""
    return read_image(SAMPLE_PORTRAIT)


def sample_driving(size: int = 64, n_frames: int = 48, index: int = 0) -> np.ndarray:
    """A synthetic talking-head clip (``liaviz.data.synthetic``: head turns, nods, blinks, speech),
    uint8 (T, s, s, 3) with s = min(size, 128) (callers resize to the model). To try things
    without downloads; pass a real driving video for real motion."""
    from .data.synthetic import video_frames

    frames, _, _ = video_frames(0, "test", index, n_frames, min(size, 128))
    return frames


def random_model(seed: int = 0, size: int = 64, motion_dim: int = 20) -> LIA:
    """A small LIA with random weights (for trying the tools; its images are not faces)."""
    # about 10 ms per image on one CPU core: the notebook and demo stay quick without a model
    config = LIAConfig(
        size=size, latent_dim=64, motion_dim=motion_dim, channel_multiplier=0.125, channel_max=32
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LIA(config)
    return model.eval()


def real_photo_note(label: str | None) -> str | None:
    """What to expect when the embedded model (``label`` = its name) animates a real photo or
    painting; None for any other model."""
    if label != EMBEDDED_MODEL:
        return None
    return (
        f"{EMBEDDED_MODEL} is a small 64x64 model trained only on liaviz's synthetic cartoon "
        "faces: on a real photo or painting its motions are small and cartoon-like, and a face "
        "that barely moves is this model's limit, not LIA's. Load the official vox.pt "
        "(256x256, real faces) to see LIA on real portraits."
    )


def load_demo_model(
    checkpoint: str | os.PathLike | None = None,
    default: str = EMBEDDED_MODEL,
    device: str | torch.device | None = None,
) -> tuple[LIA, str | None]:
    """The model the demo and notebook explore, and a warning when it is a stand-in.

    ``checkpoint`` (a path such as the official ``vox.pt``, or a bundled name) is loaded as
    asked, errors included. Without it the bundled ``default`` model is used; if this install
    has none, a small random-weight model is returned with a warning (also issued as a
    ``UserWarning``) saying so.
    """
    if checkpoint is not None:
        return load_model(checkpoint, device=device), None
    if default in pretrained_names():
        return load_model(default, device=device), None
    message = (
        f"the bundled model {default!r} is not in this install: using a small model with RANDOM "
        "weights, so images will not look like faces. Set a checkpoint path (e.g. the official "
        "vox.pt) to explore a trained model."
    )
    warnings.warn(message, UserWarning, stacklevel=2)
    return random_model().to(device or "cpu"), message
