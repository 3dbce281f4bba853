"""liaviz.faces: the detector, the framing rule, paste-back and the driving clips' fixed crops,
on real faces placed at known positions (``tests/_faces.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from liaviz.faces import (
    CropBox,
    Framing,
    align,
    detect_faces,
    driving_crops,
    feather_mask,
    paste_back,
    scan_clip,
)
from liaviz.faces.detect import LANDMARKS
from liaviz.io import iter_video
from liaviz.runtime.driving import DrivingVideo

from ._faces import MONA, canvas, photo, put
from .conftest import DATA, needs_shared

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_detector_finds_one_face_with_its_landmarks_in_place():
    (face,) = detect_faces(MONA)
    marks = dict(zip(LANDMARKS, face.landmarks, strict=True))
    assert marks["right_eye"][0] < marks["left_eye"][0]  # the person's right eye is image-left
    assert marks["mouth_right"][0] < marks["mouth_left"][0]
    eyes_y = (marks["right_eye"][1] + marks["left_eye"][1]) / 2
    assert eyes_y < marks["nose"][1] < marks["mouth_right"][1]
    x0, y0, x1, y1 = face.box
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in face.landmarks)
    assert face.score > 0.9


def test_nothing_is_found_in_a_plain_canvas():
    assert detect_faces(canvas(320, 200)) == []


@pytest.mark.parametrize("name", ["mona_lisa", "macron"])
def test_the_rule_gives_back_the_official_sample_crops(name):
    """The official sample sources are framed as the model expects: the rule's box found in the
    crop itself is (nearly) the whole crop, and so it is used whole."""
    path = DATA / f"{name}.png"
    if not path.exists():
        pytest.skip(f"{path} not available")
    from liaviz.io import read_image

    image = read_image(path)
    (face,) = detect_faces(image)
    box = Framing().box(face)
    assert box.iou(CropBox(0, 0, 256)) > 0.9
    placed = align(image, 64)
    assert placed.whole and placed.crop.shape == (64, 64, 3)


def test_a_face_off_centre_in_a_wide_photo_is_cropped_where_it_was_put():
    image = photo(1280, 720, 830, 240, 300)
    placed = align(image, 64)
    truth = CropBox(830, 240, 300)
    assert not placed.whole
    assert placed.box.iou(truth) >= 0.9
    assert np.hypot(*np.subtract(placed.box.centre, truth.centre)) <= 0.03 * 300


def test_framing_overrides_move_and_scale_the_box():
    image = photo(1280, 720, 500, 200, 240)
    base = align(image, 64).box
    wider = align(image, 64, framing=Framing(scale=1.5)).box
    shifted = align(image, 64, framing=Framing(vx=0.1, vy=-0.1)).box
    assert wider.side == pytest.approx(1.5 * base.side, abs=1)
    assert wider.centre == pytest.approx(base.centre, abs=1)
    assert shifted.x0 == pytest.approx(base.x0 + 0.1 * base.side, abs=1)
    assert shifted.y0 == pytest.approx(base.y0 - 0.1 * base.side, abs=1)
    with pytest.raises(ValueError, match="scale"):
        Framing(scale=0)


def test_paste_back_keeps_the_photo_outside_the_box_bit_for_bit():
    image = photo(1280, 720, 700, 300, 256)
    placed = align(image, 256)
    changed = placed.paste(image, 255 - placed.crop)  # any result: here the negative
    b = placed.box
    x0, y0 = int(b.x0), int(b.y0)
    x1, y1 = int(np.ceil(b.x0 + b.side)), int(np.ceil(b.y0 + b.side))
    outside = np.ones(image.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(changed[outside], image[outside])
    inner = changed[y0 + 40 : y1 - 40, x0 + 40 : x1 - 40].astype(int)
    assert np.abs(inner - image[y0 + 40 : y1 - 40, x0 + 40 : x1 - 40]).mean() > 50


def test_an_unchanged_crop_pasted_back_leaves_no_seam():
    """The result equals the crop (an animation that moves nothing): in the feathered band the
    output stays within 1/255 of the photo on average, here with the crop at its own scale."""
    image = photo(1280, 720, 700, 300, 256)
    placed = align(image, 256)
    back = placed.paste(image, placed.crop)
    b = placed.box
    region = (int(b.x0), int(b.y0), int(b.x0 + b.side), int(b.y0 + b.side))
    mask = feather_mask(b, region)
    band = (mask > 0) & (mask < 1)
    diff = np.abs(back.astype(float) - image)[region[1] : region[3], region[0] : region[2]]
    assert band.sum() > 1000
    assert diff[band].mean() <= 1.0


def test_feather_mask_is_zero_outside_one_inside_and_smooth_between():
    box = CropBox(10.0, 10.0, 100.0)
    m = feather_mask(box, (0, 0, 130, 130), feather=0.1)
    assert m[:10].max() == 0 and m[:, 110:].max() == 0
    assert m[30:90, 30:90].min() == 1
    assert np.abs(np.diff(m[60])).max() < 0.2  # no step across the band


def test_a_crop_that_leaves_the_photo_is_padded_and_pasted_back_inside_it():
    image = photo(640, 360, -60, 100, 220)  # the face's square starts 60 px left of the edge
    placed = align(image, 64)
    assert not placed.box.inside(640, 360)
    assert "padded" in placed.describe()
    back = placed.paste(image, placed.crop)
    assert back.shape == image.shape


def test_several_faces_the_largest_first_and_face_picks_another():
    image = put(photo(1280, 720, 80, 200, 320), MONA, 900, 300, 180)
    first, second = align(image, 64), align(image, 64, face=2)
    assert first.box.iou(CropBox(80, 200, 320)) > 0.8
    assert second.box.iou(CropBox(900, 300, 180)) > 0.8
    assert first.faces_found == 2
    with pytest.raises(ValueError, match="--face 3 asked, but 2 face"):
        align(image, 64, face=3)


def test_a_photo_with_no_face_is_an_error_that_names_crop_center():
    with pytest.raises(ValueError, match="no face found; --crop center"):
        align(canvas(640, 360), 64)


def test_square_inputs_framed_or_faceless_are_used_whole_as_crop_center_would():
    from liaviz.demo import sample_driving
    from liaviz.io import prepare

    cartoon = sample_driving(64, 2)[0]  # a synthetic face, framed like the model's input
    faceless = canvas(96, 96)
    for image in (cartoon, faceless, MONA):
        placed = align(image, 64)
        assert placed.whole
        assert np.array_equal(placed.crop, prepare(image, 64, "center"))
    assert align(faceless, 64).face is None
    assert "used whole" in align(faceless, 64).describe()


def test_a_driving_clip_gets_one_fixed_crop_that_holds_the_moving_face(tmp_path):
    from ._faces import moving_clip

    truth = moving_clip(tmp_path / "move.mp4", 16, (80, 60), (12, 4), 150)
    drive = DrivingVideo(tmp_path / "move.mp4", 64, "auto")
    crops = drive.crops()
    assert not crops.whole and len(crops.boxes) == 1 and crops.lost == 0
    box = crops.box(0)
    for x, y, side in truth:  # the face's square is inside the crop in every frame
        assert box.x0 <= x + 2 and box.y0 <= y + 2
        assert x + side <= box.x0 + box.side + 2 and y + side <= box.y0 + box.side + 2
    frames = np.concatenate([u8 for u8, _ in drive.batches(8, tensors=False)])
    assert frames.shape == (16, 64, 64, 3)
    # in the fixed crop the face moves the way it moved in the video: right and a little down
    (first,), (last,) = detect_faces(frames[0]), detect_faces(frames[-1])
    dx, dy = np.subtract(last.landmarks.mean(0), first.landmarks.mean(0))
    assert dx > 3 * abs(dy) > 0 and dy > 0


def test_a_cut_starts_a_new_crop_and_faceless_frames_keep_the_last(tmp_path):
    from ._media import write_mp4

    a = [photo(640, 360, 60, 60, 160) for _ in range(6)]
    gone = [canvas(640, 360, (150, 60, 40)) for _ in range(4)]  # a cut to a shot with no face
    b = [photo(640, 360, 400, 150, 180) for _ in range(6)]  # a cut back, the face elsewhere
    write_mp4(tmp_path / "cuts.mp4", np.stack(a + gone + b))
    scan = scan_clip(iter_video(tmp_path / "cuts.mp4"))
    assert scan.cuts == [6, 10]
    crops = driving_crops(scan)
    assert crops.cuts == 2 and crops.faceless_shots == 1 and crops.lost == 4
    assert crops.box(0).iou(crops.box(9)) == 1.0  # the faceless shot keeps the crop before it
    assert crops.box(10).iou(CropBox(400, 150, 180)) > 0.3
    assert crops.box(0).iou(CropBox(60, 60, 160)) > 0.3
    assert "1 shot(s) without a face" in crops.describe()


def test_a_driving_video_with_no_face_at_all_is_an_error_unless_square(tmp_path):
    from liaviz.faces import FaceError

    from ._media import write_mp4

    write_mp4(tmp_path / "empty.mp4", np.stack([canvas(320, 180)] * 3))
    with pytest.raises(FaceError, match="no face found in any of its 3 frames; --crop center"):
        DrivingVideo(tmp_path / "empty.mp4", 64, "auto").crops()
    write_mp4(tmp_path / "square.mp4", np.stack([canvas(128, 128)] * 3))
    assert DrivingVideo(tmp_path / "square.mp4", 64, "auto").crops().whole


@needs_shared(DATA / "driving1.mp4")
def test_the_official_driving_clip_is_already_framed():
    crops = DrivingVideo(DATA / "driving1.mp4", 64, "auto").crops()
    assert crops.whole


def test_paste_back_accepts_a_result_smaller_than_the_box():
    image = photo(640, 360, 200, 50, 250)
    box = CropBox(200.0, 50.0, 250.0)
    out = paste_back(image, box.crop(image, 64), box)
    assert out.shape == image.shape
    assert np.abs(out.astype(int) - image)[60:290, 210:440].mean() < 8  # blurrier, same picture


def test_a_scan_with_a_stride_finds_the_same_faces_where_they_come_and_go(tmp_path):
    """Detection on every 3rd frame, the frames between interpolated: the same frames hold a
    face as with detection on every frame, and the boxes stay within a few pixels."""
    from ._media import write_mp4

    a = [photo(320, 180, 40 + 3 * t, 20, 100) for t in range(7)]
    gone = [canvas(320, 180) for _ in range(2)]
    b = [put(canvas(320, 180, (200, 150, 60)), MONA, 150, 40, 110) for _ in range(5)]
    write_mp4(tmp_path / "clip.mp4", np.stack(a + gone + b))
    every = scan_clip(iter_video(tmp_path / "clip.mp4"))
    sparse = scan_clip(iter_video(tmp_path / "clip.mp4"), every=3)
    assert sparse.cuts == every.cuts == [9]
    assert [len(f) for f in sparse.faces] == [len(f) for f in every.faces]
    assert [len(f) for f in every.faces] == [1] * 7 + [0] * 2 + [1] * 5
    for s, e in zip(sparse.faces, every.faces, strict=True):
        if s:
            assert np.abs(np.subtract(s[0].box, e[0].box)).max() < 4
    with pytest.raises(ValueError, match="every"):
        scan_clip([], every=0)
