"""Images: reading any common format as uint8 RGB, preparing it to the model's square input,
the model's tensor convention, and writing.

Pixels travel as ``uint8`` RGB arrays, (H, W, 3) per image or frame. Model tensors are float32
NCHW in [-1, 1]: ``(u8 / 255 - 0.5) * 2`` (the official convention). ``to_uint8`` clamps to
[-1, 1] and maps each frame back on its own. The official demo instead rescales the whole output
video by its global min/max, so one outlier pixel dims every frame; clamping keeps frames
independent, which a stream needs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import UserError, first_line
from .atomic import atomic_output

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
# "auto" finds the face (``liaviz.faces``; resolved in ``liaviz.runtime``, not here)
Crop = Literal["auto", "center", "pad", "none"]


class MediaError(UserError, ValueError):
    """An image or video could not be read or written; the message names the file and why."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as uint8 RGB (H, W, 3).

    EXIF orientation is applied; transparency is composited on white; grayscale, palette, CMYK
    and other modes are converted; 16-bit and float images are reduced to 8 bits.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, not an image")
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return _pil_to_rgb(im)
    except Image.DecompressionBombError as e:
        raise MediaError(f"{path}: image too large to read safely ({first_line(e)})") from None
    except UnidentifiedImageError:
        raise MediaError(
            f"{path}: not an image Pillow can read (unknown or corrupt format)"
        ) from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated data, bad headers
        raise MediaError(f"{path}: corrupt or unreadable image ({first_line(e)})") from None


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        a = np.asarray(im).astype(np.float64)
        if mode == "F":
            peak = 1.0 if a.size and np.nanmax(a) <= 1.0 else 255.0
        elif mode.startswith("I;16") or im.format == "PNG":  # PNG opens 16-bit gray as I or I;16
            peak = 65535.0  # by the bit depth, never by the content: a dark image stays dark
        else:  # 32-bit integer gray (TIFF) says nothing of its range: 16 bits when it exceeds 8
            peak = 65535.0 if a.size and a.max() > 255 else 255.0
        g = np.clip(np.nan_to_num(a) / peak * 255.0, 0, 255).round().astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in im.info
    ):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im)


def prepare(image: np.ndarray, size: int, crop: Crop = "center") -> np.ndarray:
    """Bring an image to the model's square input, uint8 (size, size, 3).

    ``crop``: ``"center"`` cuts the largest centred square; ``"pad"`` pads the short side
    symmetrically with white to a square (nothing is lost); ``"none"`` stretches.
    The resize is Pillow's bilinear filter (``Image.BILINEAR``), which Pillow widens into an
    area-aware, anti-aliased filter when shrinking; the reference inputs of the golden tests
    were resized the same way. An image already at (size, size) is returned unchanged.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    if crop == "center":
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        image = image[top : top + s, left : left + s]
    elif crop == "pad":
        s = max(h, w)
        top, left = (s - h) // 2, (s - w) // 2
        padded = np.full((s, s, 3), 255, np.uint8)
        padded[top : top + h, left : left + w] = image
        image = padded
    elif crop == "auto":
        raise ValueError("crop='auto' needs a face detector: use liaviz.runtime.source_crop")
    elif crop != "none":
        raise ValueError(f"crop must be 'auto', 'center', 'pad' or 'none', got {crop!r}")
    if image.shape[:2] == (size, size):
        return np.ascontiguousarray(image)
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) or (T, H, W, 3) -> float32 (1 or T, 3, H, W) in [-1, 1]."""
    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim not in (3, 4) or a.shape[-1] != 3:
        raise ValueError(f"expected uint8 (H, W, 3) or (T, H, W, 3), got {a.dtype} {a.shape}")
    if not a.flags.writeable:  # Pillow hands out read-only views; torch wants writable memory
        a = a.copy()
    t = torch.from_numpy(np.ascontiguousarray(a))
    if t.dim() == 3:
        t = t.unsqueeze(0)
    return (t.permute(0, 3, 1, 2).float() / 255.0 - 0.5) * 2.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Model output (3, H, W) or (N, 3, H, W) -> uint8 (H, W, 3) or (N, H, W, 3).

    Values are clamped to [-1, 1], then mapped linearly, frame by frame (see the module notes
    on how this differs from the official demo's whole-video min/max rescaling).
    """
    x = images.detach()
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"expected (3, H, W) or (N, 3, H, W), got {tuple(x.shape)}")
    x = ((x.float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
    x = x.permute(1, 2, 0) if x.dim() == 3 else x.permute(0, 2, 3, 1)
    return x.cpu().contiguous().numpy()


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Save a uint8 (H, W, 3) image (format from the suffix: png, jpg, ...), atomically: written
    next to the target under a temporary name, then renamed."""
    path = Path(path)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    try:
        with atomic_output(path, suffix=path.suffix, error=MediaError) as tmp:
            Image.fromarray(image).save(tmp)
    except MediaError:  # the atomic writer's own one-liners: missing folder, full disk
        raise
    except (OSError, ValueError, KeyError) as e:  # Pillow: ValueError/KeyError for a bad suffix
        raise MediaError(f"{path}: cannot write image ({first_line(e)})") from None
    return path
