"""Headless analysis of LIA's motion space, one idea per module; the widgets in ``liaviz.explore``
are thin views on these, so scripts and tests run the same code.

- ``edits``: the source moved along the directions (single edits, batches, sweeps, sweep clips);
- ``magnitudes``: the motion magnitudes A of video frames, and how much each direction is used;
- ``ranges``: slider ranges that cover the motion of real frames;
- ``pca``: the one PCA of magnitudes (GANSpace-style axes in the d_i basis);
- ``flows``: flow fields, masks and the reference image x_r (Fig. 5) as arrays;
- ``figures``: matplotlib figures of the above (sweep grid, PCA scatter, reference view);
- ``pca_plots``: the same PCA as plotly figures (interactive, and offline HTML for the demo);
- ``display``: pixels for a screen (nearest enlargement, PNG bytes).

Paper notation (Wang et al., ICLR 2022, Sec. 3): a source s encodes to z_{s->r} (the code of its
canonical *reference* pose) and magnitudes A_s; the motion dictionary holds M orthonormal
directions d_i; a latent path is w = sum_i a_i d_i (eq. 6). An *edit* e (M,) moves the source's
own code along the directions, z = z_{s->s} + sum_i e_i d_i (the linear manipulation of Fig. 6),
so e = 0 reconstructs the source. Python indices of directions are 0-based (array positions);
direction *numbers* shown to people (d1..dM, ``--mute``, edit mappings) are 1-based.
"""

from __future__ import annotations

from ..errors import UserError

# Sources are encoded once, exactly; the many decodes of edits follow the precision asked for.
ENCODE_PRECISION = "float32"


class AnalysisError(UserError, ValueError):
    """Bad input to an analysis function (wrong shapes, unknown direction, empty video)."""
