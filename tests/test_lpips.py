"""LPIPS weight files that cannot be read get one line naming the file and the problem."""

from __future__ import annotations

import argparse
import pickle

import pytest
import torch

from liaviz.pipelines.lpips import LPIPS, LPIPSError


def test_weights_that_cannot_load_are_one_plain_line(tmp_path):
    """No terminal codes and none of torch's advice to load the file with weights_only=False
    (liaviz never does): the file's name and what is wrong with it."""
    torch.save({"args": argparse.Namespace(net="alex")}, tmp_path / "namespace.pth")
    with open(tmp_path / "object.pth", "wb") as f:
        pickle.dump({"x": object()}, f, protocol=2)
    whole = (tmp_path / "namespace.pth").read_bytes()
    (tmp_path / "truncated.pth").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "text.pth").write_bytes(b"not a torch file at all")
    expected = {
        "namespace.pth": "objects other than tensors (argparse.Namespace)",
        "object.pth": "objects other than tensors",
        "truncated.pth": "truncated or corrupt file",
        "text.pth": "truncated or corrupt file",
    }
    for name, problem in expected.items():
        with pytest.raises(LPIPSError) as caught:
            LPIPS.from_files(tmp_path / name)
        message = str(caught.value)
        assert message.startswith(f"{tmp_path / name}: cannot read LPIPS weights: "), message
        assert problem in message and "\n" not in message and "\x1b" not in message, message
        assert "weights_only" not in message and "trust" not in message, message
