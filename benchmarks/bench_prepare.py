"""How fast ``liaviz prepare`` runs against decoding alone, where its time goes, and its memory.

    python benchmarks/bench_prepare.py [--seconds 20] [--every 5] [--workers 2] [--long 0]

Makes a 1280x720, 25 fps H.264 video of ``--seconds`` (real faces on known paths: the test
scenes of ``tests/_face_videos.py`` scaled up, cut, with a faceless shot and two faces), then,
in one run on the same file: decoding alone (PyAV, no conversion; and to RGB at full size, as
``liaviz.io.iter_video`` reads), pass one (decode to 640 px + detection, ``--every``), pass two
(decode + crop + encode of the clips) and ``liaviz prepare`` end to end with ``--workers`` on
as many copies of the video. Speeds are in multiples of real time (video seconds per second).
``--long M``: peak memory (max RSS, in a fresh process) of pass one over an M-minute video
(640x360, to keep it quick to make) against a tenth of it: flat means the same.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._machine import cpu_name  # noqa: E402
from liaviz.faces.track import video_detector  # noqa: E402
from liaviz.io import VideoWriter, iter_av_frames  # noqa: E402
from liaviz.prepare import Options, Rules, plan_clips, prepare_dataset  # noqa: E402
from liaviz.prepare.video import scan_video, write_clips  # noqa: E402
from tests._face_videos import known_paths  # noqa: E402

FPS = 25


def make_video(path: Path, seconds: float, width: int, height: int) -> Path:
    """The known-paths scene, scaled to width x height and looped to ``seconds`` (streamed to
    the file: a long video is never in memory)."""
    scene = known_paths()
    frames = [np.asarray(Image.fromarray(f).resize((width, height))) for f in scene.frames]
    with VideoWriter(path, FPS) as writer:
        for i in range(int(seconds * FPS)):  # each scene frame twice: paths move as at 12.5 fps
            writer.write(frames[(i // 2) % len(frames)])
    return path


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def speeds(video: Path, seconds: float, every: int, workers: int, tmp: Path) -> dict:
    detector = video_detector()
    t_decode, _ = timed(lambda: sum(1 for _ in iter_av_frames(video)))
    t_rgb, _ = timed(
        lambda: sum(1 for f in iter_av_frames(video) if f.to_ndarray(format="rgb24") is not None)
    )
    t_scan, (scan, info) = timed(lambda: scan_video(video, detector, every))
    rules = Rules(size=256, min_side=128, min_frames=32)
    plans, _ = plan_clips(scan, rules)
    targets = [tmp / f"clip{k}.mp4" for k in range(len(plans))]
    t_cut, _ = timed(lambda: write_clips(video, plans, targets, 256, info.rate))
    raw = tmp / "raw"
    raw.mkdir()
    for k in range(workers):
        (raw / f"copy{k}.mp4").symlink_to(video)
    options = Options(rules=rules, detect_every=every)
    t_all, _ = timed(
        lambda: prepare_dataset(raw, tmp / "out", options, workers=workers, progress=False)
    )
    clip_frames = sum(p.n_frames for p in plans)
    return {
        "video": f"{info.width}x{info.height} {info.fps:g} fps, {seconds:g} s, {scan.n_frames} frames",
        "clips": len(plans),
        "clip_frames": clip_frames,
        "x_real_time": {
            "decode only (no conversion)": seconds / t_decode,
            "decode + RGB at 720p (iter_video)": seconds / t_rgb,
            "pass 1: decode to 640 px + cuts + detect": seconds / t_scan,
            "pass 2: decode + crop + encode": seconds / t_cut,
            "pass 1 + 2, one process": seconds / (t_scan + t_cut),
            f"liaviz prepare, {workers} videos, --workers {workers}": workers * seconds / t_all,
        },
        "seconds": {
            "decode": t_decode,
            "decode_rgb": t_rgb,
            "scan": t_scan,
            "cut": t_cut,
            "prepare": t_all,
        },
    }


_PEAK = """
import resource, sys
from liaviz.faces.track import video_detector
from liaviz.prepare.video import scan_video
scan, _ = scan_video(sys.argv[1], video_detector(), int(sys.argv[2]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, scan.n_frames)
"""


def peak_memory(minutes: float, every: int, tmp: Path) -> dict:
    """Max RSS (MiB) of pass one over a long video and over a tenth of it."""
    out = {}
    for name, length in (("tenth", minutes * 6), ("long", minutes * 60)):
        video = make_video(tmp / f"{name}.mp4", length, 640, 360)
        r = subprocess.run(
            [sys.executable, "-c", _PEAK, str(video), str(every)],
            capture_output=True,
            text=True,
            check=True,
        )
        rss, frames = r.stdout.split()
        out[name] = {"seconds": length, "frames": int(frames), "max_rss_mib": int(rss)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--long", type=float, default=0, metavar="MINUTES")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = make_video(tmp / "v720.mp4", args.seconds, 1280, 720)
        result = {
            "cpu": cpu_name(),
            "every": args.every,
            **speeds(video, args.seconds, args.every, args.workers, tmp),
        }
        if args.long:
            result["memory"] = peak_memory(args.long, args.every, tmp)
    result["bench_max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
