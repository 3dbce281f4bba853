"""Project files that must agree with each other and with the code: the version, what each extra
installs (every third-party import of the code comes from the install that needs it, and the
base install has no Jupyter or Accelerate), environment.yml, the Makefile, CI and the README."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name as canonical

import liaviz

from .conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

# conda package names that differ from their PyPI names
CONDA_TO_PYPI = {"pytorch": "torch", "python-kaleido": "kaleido", "opencv": "opencv-python"}
# what `pip install liaviz` must not bring: the explorer's and the trainer's stacks
NOT_IN_BASE = {
    "accelerate",
    "anywidget",
    "ipykernel",
    "ipython",
    "ipywidgets",
    "jupyterlab",
    "notebook",
    "tensorboard",
}
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return canonical(re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0])


def requirements(extra: str | None = None) -> set[str]:
    """Distribution names that ``pip install liaviz`` (or ``liaviz[extra]``) installs directly,
    liaviz's own extras followed (``liaviz[a,b]`` in an extra)."""
    if extra is None:
        return {_name(r) for r in PROJECT["dependencies"]}
    names: set[str] = set()
    for text in PROJECT["optional-dependencies"][extra]:
        req = Requirement(text)
        if canonical(req.name) == "liaviz":
            for inner in req.extras:
                names |= requirements(inner)
        else:
            names.add(canonical(req.name))
    return names


def test_the_version_is_one_string():
    """The version in pyproject.toml is the one the installed distribution reports and the one
    ``liaviz.__version__`` says (a stale install or a half-done bump fails here)."""
    installed = importlib.metadata.version("liaviz")
    assert liaviz.__version__ == installed == PROJECT["version"]


def test_the_base_install_has_no_jupyter_or_accelerate_and_the_extras_add_them():
    base = requirements()
    assert not base & NOT_IN_BASE, sorted(base & NOT_IN_BASE)
    assert {"ipywidgets", "anywidget", "jupyterlab"} <= requirements("explore")
    assert {"accelerate", "tensorboard"} <= requirements("train")
    assert requirements("all") == requirements("explore") | requirements("train")
    assert requirements("all") <= requirements("dev")  # make setup installs everything
    # the installed distribution says the same: its unconditional requirements are the base
    installed = importlib.metadata.requires("liaviz") or []
    unconditional = {canonical(Requirement(r).name) for r in installed if not Requirement(r).marker}
    assert unconditional == base


def _third_party_imports(folder: str) -> dict[str, set[str]]:
    """``{top-level import name: files}`` of every non-stdlib import (deferred ones included)
    in the .py files under ``folder``, liaviz's own and train/'s sibling modules left out."""
    siblings = {p.stem for p in (REPO / folder).glob("*.py")}
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "liaviz" or top in siblings:
                    continue
                found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize(
    "folder, extras, sure",  # sure: an import the scan must find there
    [
        ("liaviz", (), "torch"),  # explore and training are checked on their own below
        ("liaviz/explore", ("explore",), "torch"),
        ("liaviz/training", ("train",), "accelerate"),
        ("train", ("train",), "accelerate"),
    ],
)
def test_every_import_comes_from_the_install_that_needs_it(folder, extras, sure):
    """Each third-party package the code imports belongs to the base requirements, or to the
    extra of the part that imports it: the library and the commands to the base install, the
    Jupyter explorer to [explore], liaviz/training and train/ to [train]."""
    provided = requirements().union(*(requirements(e) for e in extras))
    by_import = importlib.metadata.packages_distributions()
    imports = _third_party_imports(folder)
    if folder == "liaviz":  # the explorer's and the trainer's imports are their extras' business
        extras_own = ("liaviz/explore/", "liaviz/training/")
        imports = {k: {f for f in v if not f.startswith(extras_own)} for k, v in imports.items()}
        imports = {k: v for k, v in imports.items() if v}
    assert sure in imports  # the scan found the code's imports
    missing = {}
    for name, files in sorted(imports.items()):
        dists = {canonical(d) for d in by_import.get(name, [])}
        assert dists, f"{name} (imported by {sorted(files)}) is not installed here"
        if not dists & provided:
            missing[name] = sorted(files)
    assert not missing, f"imported but not required by {extras or 'the base install'}: {missing}"


def test_environment_yml_installs_everything_pyproject_lists():
    wanted = requirements() | requirements("dev")
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = set()
    pip_lines: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines += dep.get("pip", [])
        else:
            name = _name(dep)
            conda.add(canonical(CONDA_TO_PYPI.get(name, name)))
    python = [d for d in env["dependencies"] if isinstance(d, str) and _name(d) == "python"]
    conda -= {"python", "pip"}
    conda |= {canonical(_name(line.split("#")[0])) for line in pip_lines if line != "-e ."}
    assert conda == wanted, (sorted(wanted - conda), sorted(conda - wanted))
    assert "-e ." in pip_lines
    # the environment's Python is one the package supports
    (spec,) = python
    version = spec.split("=", 1)[1]
    assert SpecifierSet(PROJECT["requires-python"]).contains(version), (spec, version)
    assert {"conda-forge", "pytorch"} <= set(env["channels"])


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_makefile_installs_everything_with_torch_pinned_in_the_same_command():
    """One exact torch version, allowed by pyproject's requirement, given in every pip command
    that installs liaviz (so pip never resolves torch on its own), and that command installs
    every extra."""
    makefile = (REPO / "Makefile").read_text()
    (pin,) = re.findall(r"^TORCH := torch==(\S+)$", makefile, re.M)
    (torch_req,) = [r for r in PROJECT["dependencies"] if _name(r) == "torch"]
    assert Requirement(torch_req).specifier.contains(pin), (torch_req, pin)
    install = [line for line in makefile.splitlines() if "pip install" in line and "-e" in line]
    assert install and all("$(TORCH)" in line for line in install)
    assert all("'.[dev]'" in line for line in install)


def test_the_readme_documents_each_extra():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    for extra in PROJECT["optional-dependencies"]:
        assert f"'.[{extra}]'" in section, extra
    for name in ("Jupyter", "Accelerate"):
        assert name in section
