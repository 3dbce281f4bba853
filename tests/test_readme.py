"""The README's Python quickstart and `liaviz info` line run as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest
import torch

from liaviz import LIA, LIAConfig

from .conftest import REPO

README = (REPO / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder holding a `vox.pt` in the official layout (official architecture at 64 px, the
    smallest official size, so the quickstart costs seconds; random weights)."""
    path = tmp_path_factory.mktemp("readme")
    torch.manual_seed(0)
    torch.save({"gen": LIA(LIAConfig(size=64)).state_dict()}, path / "vox.pt")
    return path


def test_python_quickstart_runs(workdir):
    (block,) = [b for b in code_blocks("python") if "load_model" in b]
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        namespace: dict = {}
        exec(compile(block, "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert namespace["relative"].shape == (4, 3, 64, 64)
    assert namespace["reference"].shape == (1, 3, 64, 64)
    assert (workdir / "vox.safetensors").exists()


def test_liaviz_info_lines_run(workdir):
    lines = [
        line.split("#")[0].strip()
        for block in code_blocks("bash")
        for line in block.splitlines()
        if line.startswith("liaviz info")
    ]
    assert lines
    for line in lines:
        args = shlex.split(line)[1:]
        result = subprocess.run(
            [sys.executable, "-m", "liaviz.cli", *args], cwd=workdir, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert "official" in result.stdout


def test_the_face_section_commands_run_on_a_whole_photo(tmp_path):
    """The "Your own photo" commands, as written, on a 16:9 photo and a moving-face clip."""
    from liaviz.io import read_image, write_image

    from ._faces import moving_clip, photo

    write_image(tmp_path / "photo.jpg", photo(960, 540, 560, 120, 260))
    moving_clip(tmp_path / "talk.mp4", 6, (100, 60), (6, 2), 150)
    (block,) = [b for b in code_blocks("bash") if "liaviz crop photo.jpg" in b]
    lines = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert len(lines) == 3
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for line in lines:
        args = shlex.split(line)[1:] + (["--no-progress"] if "animate" in line else [])
        result = subprocess.run(
            [sys.executable, "-m", "liaviz.cli", *args],
            cwd=tmp_path, capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert read_image(tmp_path / "crops" / "overlay.png").shape == (540, 960, 3)
    from liaviz.io import read_video

    assert read_video(tmp_path / "in_place.mp4").shape[1:3] == (540, 960)
    assert read_video(tmp_path / "face.mp4").shape[1:3] == (64, 64)
