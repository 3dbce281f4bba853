"""Files of ``DirectionExplorer`` (a mixin): presets listed from and saved to its folder, and
exports at the display size or a chosen scale, each shown with its absolute path and a preview."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import ipywidgets as widgets

from ..analysis import AnalysisError
from ..analysis.edits import loop_values, write_sweep
from ..analysis.mixer import direction_number
from ..analysis.presets import Preset, list_presets, load_preset, save_preset
from ..io import write_image
from ..io.atomic import guarding_inputs
from ._explorer_layout import LINE as _LINE


def input_files(*given: object) -> list[str | os.PathLike]:
    """The paths among an explorer's arguments (image, driving video, names, anatomy): the files
    it read, which no export may write over (``liaviz.io.atomic.guarding_inputs``)."""
    return [p for p in given if isinstance(p, (str, os.PathLike))]


class ExplorerFiles:
    """Presets and exports; expects the explorer's widgets and state (see ``DirectionExplorer``)."""

    def _folder(self) -> Path:
        folder = Path(self.folder_box.value).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise AnalysisError(f"cannot use folder {folder}: {e.strerror or e}") from None
        return folder.resolve()

    def _path(self, path, suffix: str) -> Path:
        if path is not None:
            return Path(path).expanduser().resolve()
        stem = _safe(self.file_name_box.value) or "edit"
        return self._folder() / f"{stem}{suffix}"

    def refresh_presets(self) -> None:
        """List the presets in the folder (the "presets" dropdown)."""
        folder = Path(self.folder_box.value).expanduser()
        names = list_presets(folder)
        self.preset_list.options = names
        self.preset_list.value = names[0] if names else None

    def preset(self) -> Preset:
        order = self.order if self.order != list(range(self.m)) else None
        return Preset(self.values().tolist(), list(self.names), order)

    def save_preset(self, path=None) -> Path:
        """Save values, names and slider order as JSON (default: folder/name.json)."""
        with guarding_inputs(*self.inputs):
            out = save_preset(self.preset(), self._path(path, ".json"))
        self.refresh_presets()
        if out.stem in self.preset_list.options:
            self.preset_list.value = out.stem
        self._exported(out, f"saved preset {out}")
        return out

    def load_preset(self, path=None) -> None:
        """Load values, names and order from a preset JSON (default: the one picked in the
        presets list): one render."""
        if path is None:
            if not self.preset_list.value:
                raise AnalysisError(f"no presets in {self.folder_box.value}: save one first")
            path = self._folder() / f"{self.preset_list.value}.json"
        p = Path(path)
        preset = load_preset(p, self.m)
        self.set_names(preset.names)
        self.set_order(preset.order if preset.order is not None else range(self.m))
        self.set_values(preset.values, exact=True)
        self.log(f"loaded preset {p.resolve()}")

    def _export_factor(self, scale) -> int:
        s = self.model.config.size
        scale = self.export_size.value if scale is None else scale
        if scale in (0, "display"):
            return max(1, -(-self.display_size // s))
        if int(scale) < 1:
            raise AnalysisError(f"scale must be a positive integer or 'display', got {scale}")
        return int(scale)

    def export_png(self, path=None, scale=None) -> Path:
        """Write the current image as PNG (default: folder/name.png) at the display size or
        ``scale`` times the model's size (nearest: no invented detail)."""
        self.wait()
        k = self._export_factor(scale)
        img = self.current_image.repeat(k, axis=0).repeat(k, axis=1)
        with guarding_inputs(*self.inputs):
            out = write_image(self._path(path, ".png"), img)
        self._exported(out, f"saved image {out} ({img.shape[1]}x{img.shape[0]})")
        return out

    def export_sweep(
        self, direction: int, path=None, fmt: str | None = None, fps: float = 12.0, scale=None
    ) -> Path:
        """Write a looping sweep of one direction (1-based, as everywhere) over its slider's
        range (0 -> max -> min -> 0, on top of the current edit) as GIF or MP4 (default:
        folder/name_sweep_<name>.<fmt>). Never over one of the explorer's input files."""
        direction = direction_number(direction, self.m, "sweep", AnalysisError) - 1
        fmt = fmt or self.sweep_format.value
        if path is None:
            base = self._path(None, "")
            path = base.with_name(
                f"{base.name}_sweep_{_safe(self.names[direction]) or direction + 1}.{fmt}"
            )
        lo, hi = self.ranges()[direction]
        size = self.model.config.size * self._export_factor(scale)
        with guarding_inputs(*self.inputs):
            out = write_sweep(
                self.model,
                self.state,
                direction,
                Path(path).resolve(),
                loop_values(hi, lo),
                fps,
                precision=self.precision,
                base=self.values(),
                min_size=size,
            )
        self._exported(out, f"saved sweep of {self.names[direction]} to {out}")
        return out

    def _exported(self, path: Path, message: str) -> None:
        """Log the absolute path and show it, with a preview, under the export buttons."""
        self.last_export = Path(path)
        self.log(message)
        label = widgets.HTML(
            f"<div style='font-size:12px;{_LINE}'>last file: <code>{html.escape(str(path))}</code></div>"
        )
        suffix = path.suffix.lower()
        if suffix in (".png", ".gif"):
            preview = widgets.Image(value=path.read_bytes(), format=suffix[1:])
            preview.layout.width = "128px"
            self.export_box.children = [label, preview]
        elif suffix == ".mp4":
            video = widgets.Video(value=path.read_bytes(), format="mp4", autoplay=True, loop=True)
            video.layout.width = "128px"
            self.export_box.children = [label, video]
        else:
            self.export_box.children = [label]


def _safe(name: str) -> str:
    """A file-name-safe version of a user-typed name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._")
