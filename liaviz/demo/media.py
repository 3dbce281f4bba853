"""What ``liaviz demo`` and the notebook explore when given nothing: the portrait that ships with
liaviz, synthetic talking-head clips, and the bundled model (or a small random-weight stand-in,
announced). Nothing is downloaded."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..checkpoints.model import EMBEDDED_DEFAULT, load_model, pretrained_names
from ..io import read_image
from ..nn import LIA, LIAConfig

EMBEDDED_MODEL = EMBEDDED_DEFAULT  # the versioned name: labels say which model it is

SAMPLE_PORTRAIT = Path(__file__).parents[1] / "assets" / "mona_lisa.png"
SAMPLE_PHOTO = Path(__file__).parents[1] / "assets" / "astronaut.png"


def sample_portrait() -> np.ndarray:
    """The Mona Lisa (Leonardo da Vinci, public domain), a 256x256 crop of the face that ships
    with liaviz (``liaviz/assets``): the explorer's and the demo's default portrait."""
    return read_image(SAMPLE_PORTRAIT)


def sample_photo() -> np.ndarray:
    """NASA's portrait of astronaut Eileen Collins (public domain, 512x512, as scikit-image
    ships it; ``liaviz/assets``): a whole photo, whose face ``crop="auto"`` finds, crops and
    pastes back. The second default portrait, after the Mona Lisa crop."""
    return read_image(SAMPLE_PHOTO)


def sample_driving(size: int = 64, n_frames: int = 48, index: int = 0) -> np.ndarray:
    """A synthetic talking-head clip (``liaviz.data.synthetic``: head turns, nods, blinks, speech),
    uint8 (T, s, s, 3) with s = min(size, 128) (callers resize to the model). To try things
    without downloads; pass a real driving video for real motion."""
    from ..data.synthetic import video_frames

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
