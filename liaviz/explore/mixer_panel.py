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
    """One toggle per direction, named and in the explorer's slider order (on = that direction's
    driving motion is transferred), a motion scale box and, with an ``anatomy``, buttons that
    set the toggles to its presets. ``guard`` wraps button callbacks (a view's ``guarded``, which
    reports errors in the view)."""

    def __init__(
        self,
        names: Sequence[str],
        anatomy=None,
        guard: Callable = lambda fn, *a: fn(*a),
        order: Sequence[int] | None = None,
    ) -> None:
        W = widgets
        self.anatomy = anatomy
        self.toggles = [W.ToggleButton(value=True, layout=W.Layout(width="auto")) for _ in names]
        for toggle in self.toggles:
            toggle.add_class("liaviz-mixer-toggle")
        self.set_names(names)
        self.scale = W.FloatText(value=1.0, description="motion ×", layout=W.Layout(width="150px"))
        self.preset_buttons = []
        for keep in ("pose", "expression") if anatomy is not None else ():
            button = W.Button(description=f"{keep} only", layout=W.Layout(width="110px"))
            button.on_click(lambda _, k=keep: guard(self.transfer_only, k))
            self.preset_buttons.append(button)
        self.toggle_box = W.Box(layout=W.Layout(flex_flow="row wrap"))
        self.set_order(range(len(names)) if order is None else order)
        legend = W.HTML(
            "<div style='font-size:12px;color:#444'><b>mixer</b>: a pressed (dark) toggle = "
            "<b>on = transferred</b>; off = that direction keeps the source's value</div>"
        )
        self.widget = W.VBox([legend, W.HBox([self.scale, *self.preset_buttons]), self.toggle_box])

    def set_names(self, names: Sequence[str]) -> None:
        """Show these names on the toggles (full names: the toggles size to their text)."""
        for toggle, name in zip(self.toggles, names, strict=True):
            toggle.description = name
            toggle.tooltip = f"on = transfer the driving motion along {name}"

    def set_order(self, order: Sequence[int]) -> None:
        """Show the toggles in this order (the sliders' order)."""
        self.order = [int(i) for i in order]
        self.toggle_box.children = [self.toggles[i] for i in self.order]

    def mute(self) -> list[int]:
        """The directions toggled off, 1-based."""
        return [i + 1 for i, t in enumerate(self.toggles) if not t.value]

    def motion_scale(self) -> float:
        """The motion scale box; a negative scale is refused (it would reverse the motion)."""
        scale = float(self.scale.value)
        if not scale >= 0 or scale == float("inf"):
            raise AnalysisError(f"motion × must be a number >= 0, got {scale:g}")
        return scale

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
