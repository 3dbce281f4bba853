"""liaviz.io.atomic, the one writer every output goes through: whole files, JSON and folders."""

from __future__ import annotations

import errno
import json
import os
import stat

import numpy as np
import pytest

from liaviz.errors import UserError
from liaviz.io import MediaError, VideoWriter, atomic
from liaviz.io.atomic import atomic_folder, remove_stale, write_json, write_text

from ._media import ALIASES, aliases


class WriteError(UserError):
    pass


def test_write_json_is_indented_sorted_and_ends_with_a_newline(tmp_path):
    obj = {"b": [1, 2.5], "a": {"z": None, "y": "é"}}
    path = write_json(tmp_path / "x.json", obj)
    expected = '{\n "a": {\n  "y": "\\u00e9",\n  "z": null\n },\n "b": [\n  1,\n  2.5\n ]\n}\n'
    assert path.read_text() == expected
    assert json.loads(path.read_text()) == obj


def test_a_missing_output_folder_is_the_callers_error(tmp_path):
    with pytest.raises(WriteError, match="output folder .*missing does not exist"):
        write_text(tmp_path / "missing" / "a.txt", "x", WriteError)
    with (
        pytest.raises(WriteError, match="does not exist"),
        atomic_folder(tmp_path / "missing" / "f", WriteError),
    ):
        pass


def test_a_folder_appears_whole_or_not_at_all(tmp_path):
    with atomic_folder(tmp_path / "done") as tmp:
        (tmp / "a.txt").write_text("a")
        assert not (tmp_path / "done").exists()  # nothing under the name while it is filled
    assert sorted(os.listdir(tmp_path / "done")) == ["a.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "done").stat().st_mode) == 0o777 & ~umask

    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "failed") as tmp:
        (tmp / "a.txt").write_text("a")
        raise RuntimeError("the writer failed")
    assert sorted(os.listdir(tmp_path)) == ["done"]


def test_a_full_disk_while_filling_a_folder_is_one_line(tmp_path):
    with pytest.raises(WriteError, match="f: no space left on the device") as e:
        with atomic_folder(tmp_path / "f", WriteError):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert "\n" not in str(e.value)
    assert os.listdir(tmp_path) == []


def test_remove_stale_finds_a_killed_writers_folder(tmp_path):
    # what a SIGKILL between entering and leaving atomic_folder leaves: the temporary itself
    cm = atomic_folder(tmp_path / "video")
    tmp = cm.__enter__()
    (tmp / "0.png").write_bytes(b"x")
    (tmp_path / "keep.txt").write_text("k")
    assert remove_stale(tmp_path, "video") == [tmp]
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]


# ---- never over an input ------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ALIASES)
def test_no_writer_writes_over_a_guarded_input(tmp_path, alias):
    victim = tmp_path / "data" / "input.mp4"
    victim.parent.mkdir()
    victim.write_bytes(b"precious")
    out = aliases(victim, tmp_path / "other")[alias]
    frame = np.zeros((4, 4, 3), np.uint8)
    with atomic.guarding_inputs(victim):
        with pytest.raises(UserError, match="would destroy it"):
            atomic.write_bytes(out, b"x")
        with pytest.raises(UserError, match="would destroy it"), atomic.atomic_output(out):
            pass
        with pytest.raises(MediaError, match="would destroy it"):
            VideoWriter(out, fps=5).write(frame)
    assert victim.read_bytes() == b"precious" and out.exists()
    assert sorted(p.name for p in victim.parent.iterdir()) == ["input.mp4"]
    atomic.write_bytes(out, b"x")  # outside the guard: an ordinary overwrite
    assert out.read_bytes() == b"x"


def test_nothing_is_written_inside_a_guarded_input_folder(tmp_path):
    data = tmp_path / "data"
    (data / "c1").mkdir(parents=True)
    with atomic.guarding_inputs(tmp_path / "elsewhere.txt", data):
        for out in (data / "c1.mp4", data / "c1" / "00000.png", data / ".." / "data" / "new.json"):
            with pytest.raises(UserError, match="inside the input folder"):
                atomic.write_bytes(out, b"x")
        atomic.write_bytes(tmp_path / "report.json", b"{}")  # beside it is fine
    assert sorted(p.name for p in data.iterdir()) == ["c1"] and not any((data / "c1").iterdir())


def test_a_folder_where_a_file_goes_is_one_line_and_left_alone(tmp_path, tiny_model):
    """Every file writer: a folder at the target was an IsADirectoryError once the whole file
    had been written (save_model's rename); now it is refused before anything is written."""
    import liaviz
    from liaviz.io import write_image

    folder = tmp_path / "taken.png"
    folder.mkdir()
    (folder / "mine.txt").write_text("mine")
    image = np.zeros((4, 4, 3), np.uint8)
    writers = {
        "write_bytes": lambda: atomic.write_bytes(folder, b"x"),
        "write_text": lambda: write_text(folder, "x"),
        "write_json": lambda: write_json(folder, {}),
        "atomic_output": lambda: atomic.atomic_output(folder).__enter__(),
        "write_image": lambda: write_image(folder, image),
        "save_model": lambda: liaviz.save_model(tiny_model, folder),
        "mp4": lambda: VideoWriter(folder.with_suffix(".mp4"), fps=5).write(image),
        "gif": lambda: VideoWriter(folder.with_suffix(".gif"), fps=5).write(image),
    }
    folder.with_suffix(".mp4").mkdir()
    folder.with_suffix(".gif").mkdir()
    for name, write in writers.items():
        with pytest.raises(UserError, match="is a folder") as err:
            write()
        assert "\n" not in str(err.value), name
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.gif", "taken.mp4", "taken.png"]
