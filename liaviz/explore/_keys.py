"""Shift+arrow on a direction slider moves 10% of its range.

ipywidgets' slider (noUiSlider) moves one step per arrow key (the explorer's step is 1% of the
range) and ignores Shift. This invisible widget adds one page-level key handler: Shift+arrow on a
direction slider's handle becomes two PageUp/PageDown presses, which noUiSlider turns into
5 steps each (its page multiplier), so 10 steps = 10% of the range. Installed once per page."""

from __future__ import annotations

import anywidget

ESM = """
export default {
  render({ el }) {
    el.style.display = "none";
    if (window.__liavizShiftArrows) return;
    window.__liavizShiftArrows = true;
    document.addEventListener("keydown", (event) => {
      const handle = event.target;
      if (!event.shiftKey || !handle.closest || !handle.classList.contains("noUi-handle")) return;
      if (!handle.closest(".liaviz-direction-slider")) return;
      const up = event.key === "ArrowRight" || event.key === "ArrowUp";
      const down = event.key === "ArrowLeft" || event.key === "ArrowDown";
      if (!up && !down) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      const key = up ? "PageUp" : "PageDown";
      for (let k = 0; k < 2; k++) {
        handle.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
      }
    }, true);
  },
};
"""


class ShiftArrows(anywidget.AnyWidget):
    """Invisible: Shift+arrow on a ``.liaviz-direction-slider`` moves 10% of its range."""

    _esm = ESM
