"""notebooks/explore_directions.ipynb: stored clean, and runs top to bottom headless (nbclient)."""

from __future__ import annotations

import json

import nbformat
import pytest

from liaviz.checkpoints.model import pretrained_names
from liaviz.demo import EMBEDDED_MODEL

from ._explore_helpers import NOTEBOOK, notebook_with

nbclient = pytest.importorskip("nbclient")


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata  # no stored widget state either
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 6  # explanations between cells


def test_notebook_runs_headless(tmp_path):
    path = notebook_with(8, tmp_path)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""
    text = json.dumps([o.get("data", {}) for o in outputs] + [o.get("text", "") for o in outputs])
    widget_views = [
        o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    # reference view, explorer, PCA view, the animation player, the photo explorer and the
    # photo's animation in place
    assert len(widget_views) == 6
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # PCA figure, sweep grid
    if EMBEDDED_MODEL not in pretrained_names():
        assert "RANDOM weights" in text  # the stand-in model is announced, visibly
    else:
        assert "synthetic cartoon" in text  # and what the small model can do on a painting
    # the widgets' state travels with the executed notebook (what a viewer would render)
    assert "state" in nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
