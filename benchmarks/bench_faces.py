"""How well ``--crop auto`` finds the crop the model expects, and how cleanly it pastes back.

    python benchmarks/bench_faces.py [--placements 50] [--seed 0] [--out faces.json]

Ground truth by construction: a face crop whose framing is known is placed in a larger canvas at
a random position and scale (on a random smooth background), so the box the crop should get is
the placed square. The known crops are the official VoxCeleb sample sources (the Mona Lisa that
ships with liaviz, and ``macron.png`` from ``../shared/data`` when present: their framing is
what the rule was measured on) and NASA's astronaut portrait that ships with liaviz, framed by
hand-annotated landmarks (eye pupils and mouth corners read off the image at 6x zoom, put through
the framing rule: its box is a constant below, not the detector's). Special placements: every
4th canvas is grayscale, one face is 8000 px and one is 64 px.

Printed per face and overall: IoU with the true box (target >= 0.9), centre error as a share of
the side (target <= 3%), detection time; and for paste-back with an animation that returns the
crop unchanged: pixels changed outside the box (target 0) and the mean |diff| in the feathered
band (the seam), at model sizes 64 and 256.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from liaviz.faces import CropBox, align, feather_mask
from liaviz.io import read_image

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "liaviz" / "assets"
SHARED = REPO.parent / "shared" / "data"

# the hand-framed astronaut: eyes (203.3, 101.3) and (246.7, 103.3), mouth corners (203.3, 140.8)
# and (244.2, 141.3); eye-to-mouth 38.8 px / 0.225 = side 172.3, eyes at half height, centred
# on the eye-mouth axis (x 224.4)
ASTRONAUT_BOX = CropBox(138.2, 16.2, 172.3)


def known_crops() -> dict[str, np.ndarray]:
    """Face crops framed as the model expects (256 px), by name."""
    crops = {"mona_lisa": read_image(ASSETS / "mona_lisa.png")}
    if (SHARED / "macron.png").exists():
        crops["macron"] = read_image(SHARED / "macron.png")
    crops["astronaut"] = ASTRONAUT_BOX.crop(read_image(ASSETS / "astronaut.png"), 256)
    return crops


def background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth random colour field (low-frequency noise, blown up)."""
    small = rng.integers(40, 220, (6, 10, 3), dtype=np.uint8)
    return np.array(Image.fromarray(small).resize((width, height), Image.BICUBIC))


def place(
    crop: np.ndarray, side: int, canvas: tuple[int, int], rng: np.random.Generator, grey: bool
):
    """``crop`` resized to ``side`` at a random spot of a (width, height) canvas: the canvas and
    the true box."""
    width, height = canvas
    image = background(rng, width, height)
    x0 = int(rng.integers(0, width - side + 1))
    y0 = int(rng.integers(0, height - side + 1))
    image[y0 : y0 + side, x0 : x0 + side] = np.asarray(
        Image.fromarray(crop).resize((side, side), Image.BILINEAR)
    )
    if grey:
        image = np.repeat(np.asarray(Image.fromarray(image).convert("L"))[..., None], 3, axis=2)
    return image, CropBox(float(x0), float(y0), float(side))


def placements(n: int, rng: np.random.Generator) -> list[tuple[int, tuple[int, int], bool]]:
    """(face side, canvas size, grayscale) for n canvases: sides log-uniform 90..600 px on
    1280x720, plus a 64 px face and an 8000 px one."""
    out = [(64, (1280, 720), False), (8000, (8400, 8200), False)]
    while len(out) < n:
        side = int(np.exp(rng.uniform(np.log(90), np.log(600))))
        out.append((side, (1280, 720), len(out) % 4 == 0))
    return out[:n]


def seam_figures(image: np.ndarray, size: int) -> dict:
    """Paste back an unchanged crop: changed pixels outside the box, mean |diff| in the band."""
    placed = align(image, size)
    back = placed.paste(image, placed.crop)
    diff = np.abs(back.astype(np.int16) - image.astype(np.int16)).max(axis=2)
    b = placed.box
    h, w = image.shape[:2]
    region = (max(int(b.x0), 0), max(int(b.y0), 0), min(int(np.ceil(b.x0 + b.side)), w),
              min(int(np.ceil(b.y0 + b.side)), h))  # fmt: skip
    mask = feather_mask(b, region)
    inside = np.zeros((h, w), bool)
    inside[region[1] : region[3], region[0] : region[2]] = mask > 0
    band = (mask > 0) & (mask < 1)
    sub = np.abs(back.astype(np.float64) - image)[region[1] : region[3], region[0] : region[2]]
    return {
        "changed_outside": int((diff[~inside] > 0).sum()),
        "band_mean_abs_diff_255": float(sub[band].mean()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--placements", type=int, default=50, help="canvases per face")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    p.add_argument("--verbose", action="store_true", help="print each placement that misses")
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    results: dict = {"faces": {}}
    all_iou, all_centre = [], []
    for name, crop in known_crops().items():
        ious, centres, times, missed = [], [], [], 0
        for side, canvas, grey in placements(args.placements, rng):
            image, truth = place(crop, side, canvas, rng, grey)
            t = time.perf_counter()
            try:
                box = align(image, 256).box
            except ValueError:  # FaceError: nothing found
                missed += 1
                ious.append(0.0)
                centres.append(1.0)
                continue
            times.append(time.perf_counter() - t)
            ious.append(box.iou(truth))
            err = np.hypot(box.centre[0] - truth.centre[0], box.centre[1] - truth.centre[1])
            centres.append(float(err / truth.side))
            if args.verbose and (ious[-1] < 0.9 or centres[-1] > 0.03):
                print(
                    f"  miss: {name} side {side} canvas {canvas} grey {grey}: IoU "
                    f"{ious[-1]:.3f}, centre {100 * centres[-1]:.2f}%, found side {box.side:g}"
                )
        image, _ = place(crop, 300, (1280, 720), rng, False)
        seams = {size: seam_figures(image, size) for size in (64, 256)}
        image, _ = place(crop, 256, (1280, 720), rng, False)
        seams["256_at_native_scale"] = seam_figures(image, 256)
        results["faces"][name] = {
            "placements": len(ious),
            "missed": missed,
            "iou_min": float(np.min(ious)),
            "iou_mean": float(np.mean(ious)),
            "share_iou_ge_0.9": float(np.mean(np.array(ious) >= 0.9)),
            "centre_error_max": float(np.max(centres)),
            "share_centre_le_0.03": float(np.mean(np.array(centres) <= 0.03)),
            "detect_ms_median": float(np.median(times) * 1000) if times else None,
            "paste_back": seams,
        }
        all_iou += ious
        all_centre += centres
        r = results["faces"][name]
        print(
            f"{name:10s} n={r['placements']} missed={missed} IoU min {r['iou_min']:.3f} mean "
            f"{r['iou_mean']:.3f} (>=0.9: {100 * r['share_iou_ge_0.9']:.0f}%) centre error max "
            f"{100 * r['centre_error_max']:.2f}% (<=3%: {100 * r['share_centre_le_0.03']:.0f}%) "
            f"align {r['detect_ms_median']:.0f} ms median"
        )
        for size, s in seams.items():
            print(
                f"    paste-back at {size}: {s['changed_outside']} pixels changed outside the "
                f"box, seam band mean |diff| {s['band_mean_abs_diff_255']:.2f}/255"
            )
    results["iou_min"] = float(np.min(all_iou))
    results["centre_error_max"] = float(np.max(all_centre))
    print(
        f"all: {len(all_iou)} placements, IoU min {results['iou_min']:.3f}, centre error max "
        f"{100 * results['centre_error_max']:.2f}%"
    )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
