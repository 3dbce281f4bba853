"""How good a model trained on the synthetic faces is, on identities it never saw.

    python benchmarks/bench_quality.py --checkpoint embedded --seed 1 \
        [--ablation runs/synth64-nodict/generator.safetensors] [--out quality.json]

On a freshly rendered test split (new seed, so new identities and motions):
1. same-identity reconstruction L1 (paper protocol: first frame as source, every frame driving,
   absolute mode; images in [0, 1]) against the copy-the-source baseline;
2. per-factor transfer (``liaviz.analysis.transfer``): on unseen identities at neutral, each factor moved
   to each end of its range; the share of the true change the model fails to reproduce
   (0 perfect, 1.0 = ignores the factor, above 1 = changes the wrong pixels);
3. relative transfer across identities, as a grid image and a short video;
4. what the directions mean: for every ground-truth factor, the direction whose magnitude
   correlates best with it (Spearman) and a linear probe from A (R^2 on held-out videos), and
   the same for the top principal components of A;
5. a sweep image: on an unseen neutral face, the best direction of each factor alone, from
   one end of the magnitudes seen on the test clips to the other (the demo's Fig. 6 view);
6. optionally the paper's ablation: reconstruction L1 of a model trained without the dictionary;
7. optionally (``--reach N``) the decoder's reach: the transfer ratio each factor gets with the
   best latent code a gradient search finds for the decoder (``liaviz.analysis.transfer``), on N unseen
   people. Near 1.0 there, a factor is beyond the decoder, whatever the encoder does.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import liaviz
from liaviz.analysis.edits import sweep_images
from liaviz.analysis.factor_probes import align_factors
from liaviz.analysis.figures import mosaic
from liaviz.analysis.pca import fit_pca
from liaviz.analysis.transfer import factor_transfer_ratios, latent_reach_ratios, unseen_identities
from liaviz.data.synthetic import FACTOR_NAMES, video_frames
from liaviz.io import VideoWriter, write_image
from liaviz.io.atomic import write_json
from liaviz.pipelines.animate import animate
from liaviz.pipelines.evaluate import copy_source_l1, reconstruction_l1
from liaviz.runtime.driving import clip_magnitudes

TRANSFER_BAR = 0.5  # the target for every factor


def render_test_split(seed: int, videos: int, frames: int, size: int):
    clips, factors = [], []
    for index in range(videos):
        pixels, trajectory, _ = video_frames(seed, "test", index, frames, size)
        clips.append(pixels)
        factors.append(np.stack([trajectory[name] for name in FACTOR_NAMES], axis=1))
    return clips, factors


def transfer_grid(model, clips, n_sources: int, columns: int, out_png: Path, out_video: Path):
    """Rows: sources (other identities); columns: frames of clip 0, driving (relative mode)."""
    driving = clips[0]
    sources = [clip[0] for clip in clips[1 : n_sources + 1]]
    animated = [
        np.stack(list(animate(model, s, driving, mode="relative", crop="none"))) for s in sources
    ]
    picks = np.linspace(0, len(driving) - 1, columns).round().astype(int)
    blank = np.full_like(driving[0], 255)
    rows = [np.concatenate([blank, *driving[picks]], axis=1)]
    rows += [np.concatenate([s, *a[picks]], axis=1) for s, a in zip(sources, animated, strict=True)]
    write_image(out_png, np.concatenate(rows, axis=0))
    with VideoWriter(out_video, fps=10) as writer:
        for t in range(len(driving)):
            writer.write(np.concatenate([driving[t], *(a[t] for a in animated)], axis=1))


def direction_sweeps(model, alpha: np.ndarray, rows: list[dict], out_png: Path) -> list[dict]:
    """Each factor's best direction alone on an unseen neutral face, over +-the largest offset
    from the median magnitude seen on the test clips (7 steps), one row per factor."""
    from liaviz.data.synthetic import render_face

    face = render_face(unseen_identities(seed=99, count=1)[0], {}, size=model.config.size)
    offsets = np.abs(alpha - np.median(alpha, axis=0))
    picked, images = [], []
    for row in rows:
        d = row["component"]
        reach = float(np.percentile(offsets[:, d], 98))
        sign = 1.0 if row["spearman"] >= 0 else -1.0  # left to right: the factor grows
        values = sign * np.linspace(-reach, reach, 7)
        images.append(sweep_images(model, face, [d], values)[0])
        picked.append(
            {"factor": row["factor"], "direction": f"d{d + 1}", "values": values.round(3).tolist()}
        )
    write_image(out_png, mosaic(np.stack(images)))
    return picked


def print_report(
    args, report: dict, transfer: dict, reach: dict | None, media: Path, size: int
) -> None:
    """The figures of ``report`` as the bench prints them: the L1 line, the table, the PCA."""
    print(
        f"test split: {args.videos} new identities x {args.frames} frames at {size}px, seed {args.seed}"
    )
    print(
        f"reconstruction L1 {report['reconstruction_l1']:.4f}  copy-source baseline "
        f"{report['copy_source_l1']:.4f}  ratio {report['ratio_to_baseline']:.2f} (bar: <= 0.40)"
    )
    if args.ablation:
        print(
            f"ablation without the motion dictionary: L1 {report['ablation_no_dictionary_l1']:.4f}"
            f"  ratio {report['ablation_ratio_to_baseline']:.2f}"
        )
    under = sum(v <= TRANSFER_BAR for v in transfer.values())
    print(
        f"per-factor transfer on {args.identities} new identities (share of the true change "
        f"missed; 1.0 = factor ignored): {under} of {len(transfer)} at or under {TRANSFER_BAR}"
    )
    if reach is not None:
        print(
            f"reach: the transfer ratio with the best latent code found for the decoder, on "
            f"{args.reach} new identities (near 1.0: the decoder cannot render the factor)"
        )
    print(
        f"\n{'factor':<12} {'transfer':>8} {'reach':>6}   {'best d_i':>8} {'rho':>6} "
        f"{'probe R2':>9}   {'best PC':>7} {'rho':>6} {'R2':>6}"
    )
    for d, c in zip(report["directions"], report["principal_components"], strict=True):
        reached = f"{reach[d['factor']]:>6.2f}" if reach is not None else f"{'-':>6}"
        print(
            f"{d['factor']:<12} {transfer[d['factor']]:>8.2f} {reached}   "
            f"{'d' + str(d['component'] + 1):>8} {d['spearman']:>6.2f} "
            f"{d['probe_r2']:>9.2f}   {'PC' + str(c['component'] + 1):>7} {c['spearman']:>6.2f} "
            f"{c['probe_r2']:>6.2f}"
        )
    print("(d1..dM numbered as the explorer's sliders; the JSON's component indices count from 0)")
    print(f"\nPCA explained variance of A: {report['pca_explained_variance']}")
    print(
        f"{media}/direction_sweeps.png: one row per factor (in the table's order), its best "
        "direction alone on an unseen neutral face, the factor growing left to right"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="embedded")
    parser.add_argument("--ablation", help="the same budget trained with motion.dictionary false")
    parser.add_argument("--seed", type=int, default=1, help="test-split seed (training used 0)")
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument(
        "--identities", type=int, default=16, help="unseen people for the per-factor transfer"
    )
    parser.add_argument("--pcs", type=int, default=6, help="principal components to align")
    parser.add_argument(
        "--reach",
        type=int,
        default=0,
        help="unseen people for the decoder's reach (a gradient search per frame; 0: skip)",
    )
    parser.add_argument("--out", default="quality.json")
    parser.add_argument("--media", default="quality", help="folder for the grid and the video")
    args = parser.parse_args()

    t0 = time.perf_counter()
    model = liaviz.load_model(args.checkpoint)
    size = model.config.size
    clips, factors = render_test_split(args.seed, args.videos, args.frames, size)
    model_l1 = [reconstruction_l1(model, clip) for clip in clips]
    baseline_l1 = [copy_source_l1(clip) for clip in clips]
    report: dict = {
        "checkpoint": str(args.checkpoint),
        "test_split": {
            "seed": args.seed,
            "videos": args.videos,
            "frames": args.frames,
            "size": size,
        },
        "reconstruction_l1": float(np.mean(model_l1)),
        "copy_source_l1": float(np.mean(baseline_l1)),
    }
    report["ratio_to_baseline"] = report["reconstruction_l1"] / report["copy_source_l1"]
    transfer = factor_transfer_ratios(model, args.seed, args.identities)
    report["factor_transfer"] = {
        "identities": args.identities,
        "seed": args.seed,
        "ratio": {k: round(v, 3) for k, v in transfer.items()},
    }

    reach = None
    if args.reach:
        reach = latent_reach_ratios(model, args.seed, args.reach)
        report["latent_reach"] = {
            "identities": args.reach,
            "seed": args.seed,
            "ratio": {k: round(v, 3) for k, v in reach.items()},
        }

    media = Path(args.media)
    media.mkdir(parents=True, exist_ok=True)
    transfer_grid(model, clips, 4, 8, media / "transfer_grid.png", media / "transfer.mp4")
    report["media"] = [str(media / "transfer_grid.png"), str(media / "transfer.mp4")]

    alpha = np.concatenate(
        [clip_magnitudes(model, clip, precision="float32").numpy() for clip in clips]
    )
    truth = np.concatenate(factors)
    groups = np.repeat(np.arange(len(clips)), args.frames)
    directions = align_factors(alpha, truth, list(FACTOR_NAMES), groups)
    pca = fit_pca(alpha, min(args.pcs, *alpha.shape))
    pcs = pca.scores
    components = align_factors(pcs, truth, list(FACTOR_NAMES), groups)
    report["directions"] = directions.as_rows()
    report["principal_components"] = components.as_rows()
    report["pca_explained_variance"] = [round(float(v), 4) for v in pca.explained]
    report["sweeps"] = direction_sweeps(
        model, alpha, report["directions"], media / "direction_sweeps.png"
    )
    report["media"].append(str(media / "direction_sweeps.png"))

    if args.ablation:
        ablation = liaviz.load_model(args.ablation)
        report["ablation_no_dictionary_l1"] = float(
            np.mean([reconstruction_l1(ablation, clip) for clip in clips])
        )
        report["ablation_ratio_to_baseline"] = (
            report["ablation_no_dictionary_l1"] / report["copy_source_l1"]
        )
    report["seconds"] = round(time.perf_counter() - t0, 1)

    print_report(args, report, transfer, reach, media, size)
    write_json(args.out, report)
    print(f"wrote {args.out} and {media}/ in {report['seconds']} s")


if __name__ == "__main__":
    main()
