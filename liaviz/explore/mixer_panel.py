"""The motion mixer's widgets for an Animate button (one toggle per direction, a motion scale,
"pose only" / "expression only" presets from an anatomy), and the anatomy figure as a panel.

Self-contained so any view can host them: ``MixerPanel(...).widget`` goes in the layout and
``mute()`` / ``motion_scale()`` go to ``liaviz.pipelines.animate.animate``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import ipywidgets as widgets

from ..analysis import AnalysisError


class MixerPanel:
    """Toggles d1..dM (on = transfer that direction's driving motion), a motion scale box and,
    with an ``anatomy``, buttons that set the toggles to its presets. ``guard`` wraps button
    callbacks (a view's ``guarded``, which reports errors in the view)."""

    def __init__(
        self,
        names: Sequence[str],
        anatomy=None,
        guard: Callable = lambda fn, *a: fn(*a),
    ) -> None:
        W = widgets
        self.anatomy = anatomy
        self.toggles = [
            W.ToggleButton(
                value=True,
                description=f"d{i + 1}",
                tooltip=f"transfer the driving motion along {name}",
                layout=W.Layout(width="48px"),
            )
            for i, name in enumerate(names)
        ]
        self.scale = W.FloatText(value=1.0, description="motion x", layout=W.Layout(width="150px"))
        self.preset_buttons = []
        for keep in ("pose", "expression") if anatomy is not None else ():
            button = W.Button(description=f"{keep} only", layout=W.Layout(width="110px"))
            button.on_click(lambda _, k=keep: guard(self.transfer_only, k))
            self.preset_buttons.append(button)
        self.widget = W.HBox(
            [self.scale, *self.preset_buttons, *self.toggles],
            layout=W.Layout(flex_flow="row wrap"),
        )

    def mute(self) -> list[int]:
        """The directions toggled off, 1-based."""
        return [i + 1 for i, t in enumerate(self.toggles) if not t.value]

    def motion_scale(self) -> float:
        return float(self.scale.value)

    def transfer_only(self, keep: str | None) -> list[int]:
        """Set the toggles to the anatomy's "pose" or "expression" preset (None: all on);
        returns the muted directions."""
        from ..analysis.anatomy import preset_mute

        if keep is not None and self.anatomy is None:
            raise AnalysisError("no anatomy: pass anatomy=True (or an Anatomy) for the presets")
        mute = [] if keep is None else preset_mute(self.anatomy, keep)
        for i, toggle in enumerate(self.toggles):
            toggle.value = i + 1 not in mute
        return mute


def anatomy_panel(anatomy) -> widgets.Accordion | None:
    """The anatomy figure (``liaviz directions``' directions.png) in a folded panel; None for an
    anatomy without maps (one read back from JSON)."""
    from ..analysis.diagnostics import anatomy_figure

    if anatomy is None or anatomy.directions[0].heat is None:
        return None
    buf = io.BytesIO()
    anatomy_figure(anatomy).savefig(buf, format="png", dpi=90, bbox_inches="tight")
    panel = widgets.Accordion(children=[widgets.Image(value=buf.getvalue(), format="png")])
    panel.set_title(0, "What each direction does (flow anatomy)")
    panel.selected_index = None
    return panel


__all__ = ["MixerPanel", "anatomy_panel"]
