"""Project files that must agree with each other."""

from __future__ import annotations

import re

import pytest
import yaml

from .conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

# conda package names that differ from their PyPI names
CONDA_TO_PYPI = {"pytorch": "torch", "python-kaleido": "kaleido"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for r in project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = set()
    pip_lines: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines += dep.get("pip", [])
        else:
            name = _name(dep)
            conda.add(CONDA_TO_PYPI.get(name, name))
    conda -= {"python", "pip"}
    assert conda == wanted, (sorted(wanted - conda), sorted(conda - wanted))
    assert "-e ." in pip_lines
    assert "python=3.11" in env["dependencies"]
    assert {"conda-forge", "pytorch"} <= set(env["channels"])


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_makefile_pins_torch_in_the_same_install_command():
    makefile = (REPO / "Makefile").read_text()
    install = [line for line in makefile.splitlines() if "pip install" in line and "-e" in line]
    assert install and all("$(TORCH)" in line for line in install)
    assert "TORCH := torch==2.13.0" in makefile
