"""Interactive views of LIA's motion space for Jupyter: the only part of liaviz that imports
ipywidgets. Each view is a thin widget layer on the headless ``liaviz.analysis`` modules.

    from liaviz.explore import DirectionExplorer, ReferenceView, MagnitudePCA, play
    DirectionExplorer(model, image, driving=video)   # named sliders for every direction d_i
    ReferenceView(model, image)                      # x_r (Fig. 5), flows and masks per scale
    MagnitudePCA(model, {"clip": video}, image)      # PCA of magnitudes, PC sliders
    play(frames)                                     # frames (T, H, W, 3) as an inline video

The explorer's presets are ``liaviz.analysis.presets``; its slider ranges ``liaviz.analysis.ranges``; its
names ``liaviz.analysis.anatomy``; its one importance order ``liaviz.analysis.magnitudes.rank_directions``.
"""

from __future__ import annotations

try:  # the [explore] extra
    import anywidget  # noqa: F401
    import ipywidgets  # noqa: F401
except ModuleNotFoundError as e:
    raise ModuleNotFoundError(
        f"liaviz.explore needs {e.name}: pip install 'liaviz[explore]'", name=e.name
    ) from None

from ._common import play
from .direction_explorer import DirectionExplorer
from .magnitude_pca import MagnitudePCA
from .reference_view import ReferenceView

__all__ = ["DirectionExplorer", "MagnitudePCA", "ReferenceView", "play"]
