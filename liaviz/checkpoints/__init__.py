"""Model files: what liaviz reads and writes to keep a model.

- ``model``: official LIA ``.pt`` files (``vox.pt``, ``taichi.pt``, ``ted.pt``), liaviz
  safetensors (weights plus provenance metadata) and the embedded models in ``checkpoints/pretrained/``:
  ``load_model``, ``save_model``, ``load_checkpoint`` (any of them, unbuilt), ``read_torch``
  (``torch.load(weights_only=True)`` with plain-data checks);
- ``training``: training checkpoints (generator, discriminator, EMA, optimisers, RNG), saved
  atomically with a digest that every reader verifies;
- ``export``: a generator for inference out of a training checkpoint or any model file.
"""

from .model import (
    EMBEDDED,
    EMBEDDED_DEFAULT,
    CheckpointError,
    load_checkpoint,
    load_model,
    pretrained_names,
    save_model,
)

__all__ = [
    "EMBEDDED",
    "EMBEDDED_DEFAULT",
    "CheckpointError",
    "load_checkpoint",
    "load_model",
    "pretrained_names",
    "save_model",
]
