"""Interactive views of LIA's motion space for Jupyter: the only part of liaviz that imports
ipywidgets. Each view has a headless counterpart in ``liaviz.analysis``.

    from liaviz.explore import DirectionExplorer, ReferenceView, MagnitudePCA
    DirectionExplorer(model, image, driving=video)   # sliders for every direction d_i
    ReferenceView(model, image)                      # x_r (Fig. 5), flows and masks per scale
    MagnitudePCA(model, {"clip": video}, image)      # PCA of magnitudes, PC sliders
    play(frames)                                     # frames (T, H, W, 3) as an inline video

The widget classes load on first use, so ``liaviz.explore.figures`` and ``.presets`` (plotly
and JSON only) import without ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._common import play
    from .direction_explorer import DirectionExplorer
    from .magnitude_pca import MagnitudePCA
    from .presets import Preset, PresetError, load_preset, save_preset
    from .reference_view import ReferenceView

_WHERE = {
    "DirectionExplorer": "direction_explorer",
    "MagnitudePCA": "magnitude_pca",
    "ReferenceView": "reference_view",
    "Preset": "presets",
    "PresetError": "presets",
    "load_preset": "presets",
    "save_preset": "presets",
    "play": "_common",
}

__all__ = [
    "DirectionExplorer",
    "MagnitudePCA",
    "Preset",
    "PresetError",
    "ReferenceView",
    "load_preset",
    "play",
    "save_preset",
]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
