"""The demo: what ``liaviz demo`` and the notebook explore when given nothing (``media``: the
shipped portrait and photo, synthetic driving clips, the bundled model), and ``build``, which
renders the explorer's views headless into a folder with one self-contained ``index.html``.

    from liaviz.demo import build
    result = build("vox.pt", out="out/vox-demo", image="me.jpg")
    print(result.index, [result.names[d] for d in result.order[:4]])
"""

from .builder import DEMO_FILES, DemoResult, build
from .media import (
    EMBEDDED_MODEL,
    SAMPLE_PHOTO,
    SAMPLE_PORTRAIT,
    load_demo_model,
    random_model,
    real_photo_note,
    sample_driving,
    sample_photo,
    sample_portrait,
)

__all__ = [
    "EMBEDDED_MODEL",
    "DEMO_FILES",
    "SAMPLE_PHOTO",
    "SAMPLE_PORTRAIT",
    "DemoResult",
    "build",
    "load_demo_model",
    "random_model",
    "real_photo_note",
    "sample_driving",
    "sample_photo",
    "sample_portrait",
]
