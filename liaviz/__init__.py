"""liaviz: a faithful, trainable Latent Image Animator (LIA) and an explorer for its motion
directions.

    import liaviz
    model = liaviz.load_model("vox.pt")        # official checkpoint or liaviz safetensors
    state = model.encode_source(x)             # x: (B, 3, S, S) in [-1, 1]
    alpha = model.encode_motion(frames)        # (T, M) motion magnitudes
    img = model.decode(state, model.absolute_latent(state, alpha))
"""

from .checkpoints.model import (
    CheckpointError,
    load_checkpoint,
    load_model,
    pretrained_names,
    save_model,
)
from .nn import LIA, LIAConfig, SourceState, SynthesisOutput
from .pipelines.animate import animate

__version__ = "0.1.0"

__all__ = [
    "LIA",
    "animate",
    "CheckpointError",
    "LIAConfig",
    "SourceState",
    "SynthesisOutput",
    "load_checkpoint",
    "load_model",
    "pretrained_names",
    "save_model",
]
