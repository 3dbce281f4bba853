"""Inputs for `liaviz animate` tests on the command line: a saved tiny model, a source PNG and a
driving mp4 in one folder, and the command run on them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from liaviz import save_model
from liaviz.cli import main

from ._media import moving_frames, write_mp4, write_png


def animate_files(
    folder: Path, model, n_frames: int, fps: float | Fraction, source_width: int | None = None
) -> dict:
    """``{"ckpt", "source", "driving"}`` as strings, and ``"dir"``: the folder."""
    ckpt = folder / "tiny.safetensors"
    save_model(model, ckpt)
    source = write_png(folder / "source.png", moving_frames(1, 64, source_width, seed=5)[0])
    driving = write_mp4(folder / "driving.mp4", moving_frames(n_frames, 64), fps)
    return {"ckpt": str(ckpt), "source": str(source), "driving": str(driving), "dir": folder}


def animate_cli(files: dict, out, *extra: str, source=None, driving=None) -> int:
    """`liaviz animate` on ``files`` (or the given source/driving) into ``out``; its exit code.
    The random test media hold no face: they are taken as they are (``--crop center``) unless
    ``extra`` says how to crop."""
    if not any(e in ("--crop", "--driving-crop") for e in extra):
        extra = ("--crop", "center", *extra)
    argv = ["animate", "--checkpoint", files["ckpt"], "--source", str(source or files["source"])]
    argv += ["--driving", str(driving or files["driving"]), "--out", str(out), "--no-progress"]
    return main(argv + list(extra))
