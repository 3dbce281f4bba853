"""A picture of what the model will get: the crop box and the faces drawn on the photo."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .detect import Face
from .framing import CropBox

CROP_COLOUR = (255, 200, 0)  # the crop box
CHOSEN_COLOUR = (0, 220, 90)  # the face the crop was made around
OTHER_COLOUR = (230, 60, 60)  # the other faces, numbered
LANDMARK_COLOURS = ((255, 60, 60), (255, 255, 0), (255, 0, 255), (0, 200, 0), (40, 120, 255))


def draw_crop(
    image: np.ndarray, box: CropBox | None, faces: list[Face], chosen: Face | None = None
) -> np.ndarray:
    """``image`` with ``box`` (yellow), every face's box (the chosen one green, the others red
    and numbered as ``--face`` counts them) and the chosen face's five landmarks."""
    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    width = max(1, round(max(image.shape[:2]) / 400))
    for number, face in enumerate(faces, 1):
        colour = CHOSEN_COLOUR if face is chosen else OTHER_COLOUR
        draw.rectangle(face.box, outline=colour, width=width)
        draw.text((face.box[0] + 2, face.box[1] + 2), str(number), fill=colour)
    if chosen is not None:
        r = max(2, width * 2)
        for (x, y), colour in zip(chosen.landmarks, LANDMARK_COLOURS, strict=True):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    if box is not None:
        draw.rectangle(box.bounds, outline=CROP_COLOUR, width=width * 2)
    return np.asarray(im)
