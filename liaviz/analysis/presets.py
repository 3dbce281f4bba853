"""Explorer presets: slider values and direction names, saved as small JSON files.

    {"format": "liaviz-preset", "version": 1, "motion_dim": 20,
     "values": [0.0, 1.25, ...], "names": ["d1", "jaw", ...], "order": [3, 0, ...]}

``order`` (optional) is the slider order on screen. Scripts can read and write presets and pass
``values`` to ``liaviz.analysis.edits.edit_image`` or ``liaviz.pipelines.animate``'s ``edit``; the
explorer (``liaviz.explore``) saves and loads them from its folder.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..io.atomic import write_json

PRESET_FORMAT = "liaviz-preset"
PRESET_VERSION = 1


class PresetError(UserError, ValueError):
    """A preset file that cannot be read, or does not fit the model."""


@dataclass
class Preset:
    values: list[float]  # e_i per direction, in direction order
    names: list[str]
    order: list[int] | None = None

    @property
    def motion_dim(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict:
        data = {
            "format": PRESET_FORMAT,
            "version": PRESET_VERSION,
            "motion_dim": self.motion_dim,
            "values": [round(float(v), 6) for v in self.values],
            "names": list(self.names),
        }
        if self.order is not None:
            data["order"] = [int(i) for i in self.order]
        return data


def save_preset(preset: Preset, path: str | os.PathLike) -> Path:
    """Write a preset as JSON, atomically. The folder must exist."""
    path = Path(path)
    if len(preset.names) != preset.motion_dim:
        raise PresetError(f"{len(preset.names)} names for {preset.motion_dim} values")
    return write_json(path, preset.to_dict(), PresetError)


def load_preset(path: str | os.PathLike, motion_dim: int | None = None) -> Preset:
    """Read a preset; with ``motion_dim``, check it fits a model with that many directions."""
    path = Path(path)
    if not path.is_file():
        raise PresetError(f"{path}: no such preset file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PresetError(f"{path}: not a JSON preset ({e})") from None
    if not isinstance(data, dict) or data.get("format") != PRESET_FORMAT:
        raise PresetError(f'{path}: not a liaviz preset (no "format": "{PRESET_FORMAT}")')
    if data.get("version") != PRESET_VERSION:
        raise PresetError(
            f"{path}: preset version {data.get('version')!r}, expected {PRESET_VERSION}"
        )
    values, names, order = data.get("values"), data.get("names"), data.get("order")
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and math.isfinite(v) for v in values
    ):
        raise PresetError(f'{path}: "values" must be a list of finite numbers')
    if not isinstance(names, list) or len(names) != len(values):
        raise PresetError(f'{path}: "names" must list one name per value ({len(values)})')
    if motion_dim is not None and len(values) != motion_dim:
        raise PresetError(
            f"{path}: preset has {len(values)} directions, this model has {motion_dim}"
        )
    if order is not None and sorted(order) != list(range(len(values))):
        raise PresetError(f'{path}: "order" must be a permutation of 0..{len(values) - 1}')
    return Preset([float(v) for v in values], [str(n) for n in names], order)


def list_presets(folder: str | os.PathLike) -> list[str]:
    """The stems of the presets in ``folder`` (JSON files that are liaviz presets), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.glob("*.json")):
        try:
            if json.loads(p.read_text(encoding="utf-8")).get("format") == PRESET_FORMAT:
                out.append(p.stem)
        except (OSError, ValueError, AttributeError):
            continue  # not a preset: not listed
    return out
