"""Raw videos with real faces on known paths, for ``liaviz prepare``: face crops that ship with
liaviz (the Mona Lisa and NASA's astronaut), pasted at known squares into larger frames, cut
together with shots that hold no face. The ground truth is where each face was put."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from liaviz.faces.framing import CropBox
from liaviz.io import read_image

from ._faces import put
from ._media import write_mp4

ASSETS = Path(__file__).resolve().parents[1] / "liaviz" / "assets"
# the astronaut's face framed as a VoxCeleb crop (benchmarks/bench_faces.py, hand-annotated)
ASTRONAUT_BOX = CropBox(138.2, 16.2, 172.3)
# where the face itself lies in such a crop, as shares of its side (eyes at half height,
# eye-to-mouth 0.225 of the side: brows to chin and cheek to cheek, with room to spare)
FACE_IN_CROP = (0.3, 0.3, 0.7, 0.8)


def face_crops() -> dict[str, np.ndarray]:
    """Two real faces framed as the model's input, 256 px."""
    astronaut = ASTRONAUT_BOX.crop(read_image(ASSETS / "astronaut.png"), 256)
    return {"mona_lisa": read_image(ASSETS / "mona_lisa.png"), "astronaut": astronaut}


@dataclass
class Appearance:
    """One face through consecutive frames: the square it was pasted at in each."""

    face: str
    first: int
    squares: list[tuple[int, int, int]] = field(default_factory=list)  # x0, y0, side per frame

    @property
    def end(self) -> int:
        return self.first + len(self.squares)

    def face_box(self, index: int) -> tuple[float, float, float, float]:
        """Where the face itself is in frame ``index`` (x0, y0, x1, y1)."""
        x0, y0, side = self.squares[index - self.first]
        a, b, c, d = FACE_IN_CROP
        return (x0 + a * side, y0 + b * side, x0 + c * side, y0 + d * side)


def background(kind: int, width: int, height: int) -> np.ndarray:
    """A smooth background per shot, each far from the others in brightness (so cuts show)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    level = (50.0, 200.0, 120.0, 230.0)[kind % 4]
    ramp = 25 * np.sin(xx / width * 3 + kind) + 20 * np.cos(yy / height * 2)
    tint = np.array([(1.0, 0.9, 0.8), (0.8, 1.0, 0.9), (0.9, 0.8, 1.0), (1.0, 1.0, 0.9)][kind % 4])
    return np.clip((level + ramp)[..., None] * tint, 0, 255).astype(np.uint8)


class Scene:
    """Frames built shot by shot, with every face's appearance recorded."""

    def __init__(self, width: int = 640, height: int = 360) -> None:
        self.width, self.height = width, height
        self.frames: list[np.ndarray] = []
        self.appearances: list[Appearance] = []
        self.cuts: list[int] = []
        self._crops = face_crops()

    def shot(self, n: int, kind: int, faces: dict[str, tuple]) -> Scene:
        """``n`` frames on background ``kind``; ``faces``: name -> (start square, end square),
        each (x0, y0, side), moved linearly (a face may leave the frame)."""
        first = len(self.frames)
        if first:
            self.cuts.append(first)
        runs = {name: Appearance(name, first) for name in faces}
        for t in range(n):
            frame = background(kind, self.width, self.height)
            for name, (start, stop) in faces.items():
                u = t / max(n - 1, 1)
                square = tuple(
                    int(round(a + (b - a) * u)) for a, b in zip(start, stop, strict=True)
                )
                self._paste(frame, self._crops[name], square)
                runs[name].squares.append(square)
            self.frames.append(frame)
        self.appearances += runs.values()
        return self

    def _paste(self, frame: np.ndarray, crop: np.ndarray, square: tuple[int, int, int]) -> None:
        frame[:] = put(frame, crop, *square)

    def write(self, path: Path, fps: int = 10) -> Path:
        return write_mp4(path, np.stack(self.frames), fps=fps)


def known_paths() -> Scene:
    """Three shots: the Mona Lisa drifting slowly; no face; the Mona Lisa and the astronaut."""
    scene = Scene()
    scene.shot(24, 0, {"mona_lisa": ((60, 70, 170), (90, 90, 170))})
    scene.shot(12, 1, {})
    scene.shot(
        24,
        2,
        {
            "mona_lisa": ((40, 120, 160), (60, 110, 160)),
            "astronaut": ((400, 60, 180), (380, 90, 180)),
        },
    )
    return scene


def leaving() -> Scene:
    """One shot: the astronaut, at the right edge, walks out of the frame."""
    return Scene().shot(24, 3, {"astronaut": ((490, 80, 200), (590, 80, 200))})


def drifting() -> Scene:
    """One shot: the Mona Lisa crosses the frame, far from where she started."""
    return Scene().shot(24, 0, {"mona_lisa": ((20, 100, 160), (440, 60, 160))})
