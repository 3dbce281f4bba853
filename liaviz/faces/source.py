"""A source photo brought to the model's input: find the face, crop it by the framing rule, and
keep what paste-back needs.

``align`` is what ``--crop auto`` does with a source image:

- faces found: the largest (or the ``face``-th largest, 1-based) is cropped by ``Framing``,
  after its landmarks are refined (``refine``);
- a square image whose face already sits where the rule would put it (its crop box overlaps the
  whole image by ``FRAMED_IOU`` or more), or a square image with no face the detector can see
  (liaviz's synthetic cartoon faces, a model's own training frames), is taken whole, as
  ``--crop center`` takes it: it is already framed like the model's input;
- no face in any other image: a ``FaceError`` that names ``--crop center``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io import prepare
from .detect import Face, FaceDetector, FaceError, detect_faces
from .framing import CropBox, Framing
from .paste import FEATHER, paste_back

REFINE_SIDE = 320  # the face is re-detected in a crop of this size around it
REFINE_PASSES = 2

# A square input whose rule crop overlaps the whole image this much is used as it is: the
# official VoxCeleb sample crops reach 0.93-0.97, the driving clips' frames 0.60-0.75 (their crop
# holds the head's whole motion) and their whole-clip union crops about 0.8.
FRAMED_IOU = 0.75


@dataclass(frozen=True)
class FaceCrop:
    """A photo's crop for the model, with the way back."""

    crop: np.ndarray  # uint8 (size, size, 3): what the model gets
    box: CropBox  # where it was cut from the photo
    photo_shape: tuple[int, int]  # (H, W) of the photo
    face: Face | None  # the face it was cut around (None: no face was found)
    whole: bool  # True: the photo was used whole (already framed, see ``align``)
    faces: tuple[Face, ...] = ()  # every face the detector saw, largest first
    number: int = 1  # which of them, 1 = the largest

    @property
    def faces_found(self) -> int:
        return len(self.faces)

    def paste(self, photo: np.ndarray, result: np.ndarray, feather: float = FEATHER) -> np.ndarray:
        """The model's ``result`` (uint8 (size, size, 3)) put back into ``photo``; for a photo
        used whole there is nothing around it, and the result is returned as it is."""
        if self.whole:
            return result
        return paste_back(photo, result, self.box, feather)

    def describe(self) -> str:
        """One line for a command's report."""
        if self.whole:
            why = "no face found" if self.face is None else "already framed"
            return f"used whole ({why}; square input)"
        x0, y0, x1, y1 = (round(v) for v in self.box.bounds)
        h, w = self.photo_shape
        extra = ""
        if self.faces_found > 1:
            which = "the largest" if self.number == 1 else f"face {self.number} by size"
            extra = f" ({which} of {self.faces_found} faces)"
        pad = "" if self.box.inside(w, h) else ", padded where it leaves the image"
        size = self.crop.shape[0]
        small = ""
        if self.box.side < size / 2:  # the model sees a blown-up face: say why it looks soft
            small = f"; the face is small: its crop is enlarged {size / self.box.side:.1f}x"
        return f"face crop [{x0}, {y0}, {x1}, {y1}] of {w}x{h}{extra}{pad}{small}"


def whole_box(shape: tuple[int, ...]) -> CropBox:
    """The box of a whole square image."""
    return CropBox(0.0, 0.0, float(shape[0]))


def is_framed(shape: tuple[int, ...], box: CropBox | None) -> bool:
    """Whether a square image is already framed like the model's input: no face to go by, or
    the rule's crop nearly the whole image."""
    h, w = shape[:2]
    if h != w:
        return False
    return box is None or box.iou(whole_box(shape)) >= FRAMED_IOU


def align(
    image: np.ndarray,
    size: int,
    *,
    face: int = 1,
    framing: Framing | None = None,
    detector: FaceDetector | None = None,
    name: str = "image",
) -> FaceCrop:
    """``image`` (uint8 RGB (H, W, 3)) cropped around its face as the model expects, at
    (size, size); see the module notes for images with no face or already framed. ``face``:
    which face, 1 = the largest. ``name`` names the image in errors."""
    framing = framing or Framing()
    faces = detect_faces(image, detector)
    if face < 1:
        raise FaceError(f"--face counts from 1 (the largest face), got {face}")
    if faces and face > len(faces):
        raise FaceError(
            f"{name}: --face {face} asked, but {len(faces)} face(s) found (1 = the largest)"
        )
    chosen = faces[face - 1] if faces else None
    if chosen is not None:
        chosen = refine(image, chosen, detector)
    box = framing.box(chosen) if chosen is not None else None
    if is_framed(image.shape, box) and face == 1 and framing == Framing():
        return FaceCrop(prepare(image, size, "center"), whole_box(image.shape),
                        image.shape[:2], chosen, True, tuple(faces))  # fmt: skip
    if box is None:
        raise FaceError(
            f"{name}: no face found; --crop center uses the centre square as it is "
            "(--crop pad keeps the whole image)"
        )
    return FaceCrop(box.crop(image, size), box, image.shape[:2], chosen, False, tuple(faces), face)


def refine(
    image: np.ndarray, face: Face, detector: FaceDetector | None = None, passes: int = REFINE_PASSES
) -> Face:
    """``face`` with steadier landmarks: it is detected again in a ``REFINE_SIDE`` crop around
    it, and in that crop's mirror image (left and right swapped back), and the two are averaged;
    twice. One detection's landmarks wobble by a few percent of the face with its scale and
    position in the image (the crop's side is 4-8% off on the bench's placements); at one
    scale, mirrored and averaged, that halves (``benchmarks/bench_faces.py``)."""
    n = REFINE_SIDE
    for _ in range(passes):
        rule = Framing().box(face)
        grown = rule.side * 1.6
        region = CropBox(rule.centre[0] - grown / 2, rule.centre[1] - grown / 2, grown)
        crop = region.crop(image, n)
        seen = []
        for mirrored in (False, True):
            found = detect_faces(crop[:, ::-1].copy() if mirrored else crop, detector)
            if not found:
                continue
            f = min(found, key=lambda f: np.hypot(*(np.add(f.box[:2], f.box[2:]) / 2 - n / 2)))
            marks, box = f.landmarks.copy(), np.array(f.box)
            if mirrored:  # x -> n - x in edge coordinates; the eyes and mouth corners swap
                marks[:, 0] = n - 1 - marks[:, 0]
                marks = marks[[1, 0, 2, 4, 3]]
                box = np.array([n - 1 - box[2], box[1], n - 1 - box[0], box[3]])
            seen.append((marks, box, f.score))
        if not seen:
            return face
        k = grown / n
        average = Face(
            tuple(float(v) for v in np.mean([b for _, b, _ in seen], axis=0)),
            np.mean([m for m, _, _ in seen], axis=0),
            max(s for _, _, s in seen),
        )
        face = average.scaled(k, region.x0 + 0.5 * k - 0.5, region.y0 + 0.5 * k - 0.5)
    return face
