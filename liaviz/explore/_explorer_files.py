"""Files of ``DirectionExplorer``: presets listed from and saved to its folder, the names as
``directions.json``, and exports at the display size or a chosen scale, each shown with its
absolute path and a preview in their reserved places."""

from __future__ import annotations

import dataclasses
import html
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..analysis import AnalysisError
from ..analysis.anatomy import write_anatomy
from ..analysis.edits import loop_values, write_sweep
from ..analysis.mixer import direction_number
from ..analysis.presets import Preset, list_presets, load_preset, save_preset
from ..io import write_image
from ..io.atomic import guarding_inputs
from ._common import message_html
from ._explorer_layout import export_preview

if TYPE_CHECKING:
    from .direction_explorer import DirectionExplorer

MAX_EXPORT_PX = 8192  # the largest exported side: beyond it an image no longer fits in memory


def input_files(*given: object) -> list[str | os.PathLike]:
    """The paths among an explorer's arguments (image, driving video, names, anatomy): the files
    it read, which no export may write over (``liaviz.io.atomic.guarding_inputs``)."""
    return [p for p in given if isinstance(p, (str, os.PathLike))]


class ExplorerFiles:
    """Presets and exports of one explorer: reads its widgets (``explorer.ui``) and its edit
    (``values()``, ``names``, ``order``); writes only files and the files' message places."""

    def __init__(self, explorer: DirectionExplorer) -> None:
        self.explorer = explorer
        self.ui = explorer.ui
        self.last_export: Path | None = None

    def _folder(self) -> Path:
        folder = Path(self.ui.folder_box.value).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise AnalysisError(f"cannot use folder {folder}: {e.strerror or e}") from None
        return folder.resolve()

    def _path(self, path, suffix: str) -> Path:
        if path is None:
            stem = _safe(self.ui.file_name_box.value) or "edit"
            return self._folder() / f"{stem}{suffix}"
        out = Path(path).expanduser().resolve()
        if out.is_dir():
            raise AnalysisError(f"{out} is a folder: give a file name, such as edit{suffix}")
        return out if out.suffix or not suffix else out.with_name(out.name + suffix)

    def refresh_presets(self) -> None:
        """List the presets in the folder (the "presets" dropdown)."""
        names = list_presets(Path(self.ui.folder_box.value).expanduser())
        self.ui.preset_list.options = names
        self.ui.preset_list.value = names[0] if names else None

    def preset(self) -> Preset:
        ex = self.explorer
        order = ex.order if ex.order != list(range(ex.m)) else None
        return Preset(ex.values().tolist(), list(ex.names), order)

    def save_preset(self, path=None) -> Path:
        with guarding_inputs(*self.explorer.inputs):
            out = save_preset(self.preset(), self._path(path, ".json"))
        self.refresh_presets()
        if out.stem in self.ui.preset_list.options:
            self.ui.preset_list.value = out.stem
        self._exported(out, f"saved preset {out}")
        return out

    def load_preset(self, path=None) -> Path:
        if path is None:
            if not self.ui.preset_list.value:
                raise AnalysisError(f"no presets in {self.ui.folder_box.value}: save one first")
            path = self._folder() / f"{self.ui.preset_list.value}.json"
        p = Path(path)
        ex = self.explorer
        preset = load_preset(p, ex.m)
        ex.set_names(preset.names)
        ex.set_order(preset.order if preset.order is not None else range(ex.m))
        ex.set_values(preset.values, exact=True)
        ex.log(f"loaded preset {p.resolve()}")
        return p

    def export_names(self, path=None) -> Path:
        """The names (renames included) as a directions.json: the anatomy's measurements with
        each label as named here (the "d<i>: " prefix dropped)."""
        ex = self.explorer
        if ex.anatomy is None:
            raise AnalysisError("no anatomy to export: pass anatomy=True (the default)")
        labels = {i + 1: re.sub(rf"^d{i + 1}:\s*", "", n) for i, n in enumerate(ex.names)}
        dirs = [dataclasses.replace(d, label=labels[d.index]) for d in ex.anatomy.directions]
        default = self._path(None, "").with_name("directions.json") if path is None else None
        with guarding_inputs(*ex.inputs):
            out = write_anatomy(
                dataclasses.replace(ex.anatomy, directions=dirs),
                default or self._path(path, ".json"),
            )
        self._exported(out, f"saved names to {out}")
        return out

    def export_factor(self, scale) -> int:
        ex = self.explorer
        s = ex.model.config.size
        scale = self.ui.export_size.value if scale is None else scale
        if scale in (0, "display"):
            return max(1, -(-ex.display_size // s))
        try:
            k = float(scale)
        except (TypeError, ValueError):
            k = float("nan")
        if not k >= 1 or k != int(k) or k * s > MAX_EXPORT_PX:
            raise AnalysisError(
                f"scale must be 'display' or a whole number from 1 to {MAX_EXPORT_PX // s} "
                f"(at most {MAX_EXPORT_PX} px), got {scale}"
            )
        return int(k)

    def export_png(self, path=None, scale=None) -> Path:
        ex = self.explorer
        ex.wait()
        k = self.export_factor(scale)
        out_path = self._path(path, ".png")
        img = ex.current_image.repeat(k, axis=0).repeat(k, axis=1)
        with guarding_inputs(*ex.inputs):
            out = write_image(out_path, img)
        self._exported(out, f"saved image {out} ({img.shape[1]}x{img.shape[0]})")
        return out

    def export_sweep(
        self, direction: int, path=None, fmt: str | None = None, fps: float = 12.0, scale=None
    ) -> Path:
        ex = self.explorer
        direction = direction_number(direction, ex.m, "sweep", AnalysisError) - 1
        fmt = fmt or self.ui.sweep_format.value
        if path is None:
            base = self._path(None, "")
            path = base.with_name(
                f"{base.name}_sweep_{_safe(ex.names[direction]) or direction + 1}.{fmt}"
            )
        lo, hi = ex.ranges()[direction]
        size = ex.model.config.size * self.export_factor(scale)
        with guarding_inputs(*ex.inputs):
            out = write_sweep(
                ex.model, ex.state, direction, self._path(path, f".{fmt}"), loop_values(hi, lo),
                fps, precision=ex.precision, base=ex.values(), min_size=size,
            )  # fmt: skip
        self._exported(out, f"saved sweep of {ex.names[direction]} to {out}")
        return out

    def _exported(self, path: Path, message: str) -> None:
        """Log the message; show the absolute path and a preview in their reserved places."""
        self.last_export = Path(path)
        self.explorer.log(message)
        self.ui.last_file.value = message_html(f"last file: {path}")
        self.ui.export_box.children = [export_preview(path, Path(path).read_bytes())]

    def forget_last_file(self, error: str) -> None:
        """After a failed write: no stale "last file" (it would read as this action's result)."""
        self.last_export = None
        self.ui.last_file.value = (
            "<div style='font-size:12px;color:#999'>last file: none (the last write failed: "
            f"{html.escape(error)})</div>"
        )


def _safe(name: str) -> str:
    """A file-name-safe version of a user-typed name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._")
