"""The layering rules of the developers' guide, checked on the source (``ast``) and in a fresh
interpreter: no import cycles among liaviz modules, ``liaviz/nn`` imports nothing else of
liaviz, Jupyter packages only under ``liaviz/explore`` (and nothing else imports it),
Accelerate only under ``liaviz/training`` (and nothing else of liaviz imports it), no source
file over 450 lines, and the command line runs without Jupyter or Accelerate loaded."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import REPO

MAX_LINES = 450  # the guide's "no file over ~450 lines"
JUPYTER = {"ipywidgets", "anywidget", "jupyterlab", "IPython", "notebook", "ipykernel"}
TRAINING_ONLY = {"accelerate", "tensorboard"}  # training's dependencies, the [train] extra
WIDGETS_PACKAGE = "liaviz.explore"
TRAINING_PACKAGE = "liaviz.training"  # and train/train.py, its command line
# the modules of the training package that need Accelerate; the others load without it
NEEDS_ACCELERATE = {"liaviz.training.training_loop", "liaviz.training.run_state"}


@dataclass(frozen=True)
class Import:
    """One import statement of a module: what it names (absolute), and whether it runs when the
    module is imported (not inside a function or an ``if TYPE_CHECKING:`` block)."""

    target: str
    module_level: bool
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path, package: str) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of ``package`` found under ``root``."""
    return {module_name(root, p): p for p in sorted((root / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """Every import in ``path`` (module ``name``), relative ones resolved. ``from X import y``
    names ``X.y`` when that is a module in ``known`` (a submodule is imported), else ``X``."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: list[Import] = []

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = package.split(".")
        if node.level > 1:
            base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(node: ast.AST, module_level: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(a.name, module_level, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            origin = resolve(node)
            for a in node.names:
                sub = f"{origin}.{a.name}"
                found.append(Import(sub if sub in known else origin, module_level, node.lineno))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            module_level = False
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, module_level)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, module_level)

    visit(ast.parse(path.read_text(), str(path)), True)
    return found


def import_graph(root: Path, package: str) -> dict[str, list[Import]]:
    modules = find_modules(root, package)
    return {n: imports_of(n, p, set(modules)) for n, p in modules.items()}


def import_cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules in the module-level import graph
    (Tarjan's algorithm), each sorted."""
    edges = {
        n: sorted(
            {i.target for i in imps if i.module_level and i.target in graph and i.target != n}
        )
        for n, imps in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return sorted(cycles)


def top(target: str) -> str:
    return target.split(".")[0]


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def nn_violations(graph: dict[str, list[Import]]) -> list[str]:
    """Imports of the rest of liaviz by liaviz.nn, deferred ones included."""
    return sorted(
        {
            f"{n}:{i.line} imports {i.target}"
            for n, imps in graph.items()
            if within(n, "liaviz.nn")
            for i in imps
            if top(i.target) == "liaviz" and not within(i.target, "liaviz.nn")
        }
    )


def jupyter_violations(root: Path) -> list[str]:
    """Imports of Jupyter packages (or uses of plotly's FigureWidget) outside liaviz/explore,
    imports of liaviz.explore or liaviz.training from the rest of liaviz, Accelerate or
    TensorBoard in liaviz outside liaviz/training, and Jupyter in train/; deferred imports
    included."""
    bad = set()
    files = find_modules(root, "liaviz")
    for n, path in files.items():
        in_explore, in_training = within(n, WIDGETS_PACKAGE), within(n, TRAINING_PACKAGE)
        for i in imports_of(n, path, set(files)):
            if top(i.target) in JUPYTER and not in_explore:
                bad.add(f"{n}:{i.line} imports {i.target}")
            if within(i.target, WIDGETS_PACKAGE) and not in_explore:
                bad.add(f"{n}:{i.line} imports {i.target} (the widgets package)")
            if within(i.target, TRAINING_PACKAGE) and not in_training:
                bad.add(f"{n}:{i.line} imports {i.target} (the training package)")
            if top(i.target) in TRAINING_ONLY and not in_training:
                bad.add(f"{n}:{i.line} imports {i.target} (training only)")
        if not in_explore:
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Attribute) and node.attr == "FigureWidget") or (
                    isinstance(node, ast.Name) and node.id == "FigureWidget"
                ):
                    bad.add(f"{n}:{node.lineno} uses plotly's FigureWidget")
    train = find_modules(root, "train") if (root / "train").is_dir() else {}
    for n, path in train.items():
        for i in imports_of(n, path, set(train)):
            if top(i.target) in JUPYTER:
                bad.add(f"{n}:{i.line} imports {i.target}")
    return sorted(bad)


def long_files(root: Path) -> dict[str, int]:
    """``{path: lines}`` of the .py files under liaviz/ and train/ over MAX_LINES lines."""
    return {
        str(p.relative_to(root)): n
        for folder in ("liaviz", "train")
        for p in sorted((root / folder).rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return import_graph(REPO, "liaviz")


# ---- the checkers find what they must (each rule can fail) ---------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_the_checker_finds_a_planted_cycle_and_ignores_deferred_imports(tmp_path):
    root = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": "from .c import thing\n",
            "pkg/c.py": "from pkg.a import x\n",
            "pkg/d.py": "def later():\n    from . import e\n",
            "pkg/e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import f\n"
            "import pkg.d\n",
            "pkg/sub/__init__.py": "from ..a import y\n",
            "pkg/sub/m.py": "from .. import sub\nfrom ..c import z\n",
        },
    )
    g = import_graph(root, "pkg")
    assert import_cycles(g) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert [(i.target, i.module_level) for i in g["pkg.d"]] == [("pkg.e", False)]
    assert [(i.target, i.module_level) for i in g["pkg.e"]] == [
        ("typing", True),
        ("pkg.d", False),
        ("pkg.d", True),
    ]
    assert [i.target for i in g["pkg.sub"]] == ["pkg.a"]
    assert [i.target for i in g["pkg.sub.m"]] == ["pkg.sub", "pkg.c"]
    # a deferred import closes no cycle: d -> e is inside a function
    (root / "pkg/e.py").write_text("import pkg.d\n")
    assert import_cycles(import_graph(root, "pkg")) == [["pkg.a", "pkg.b", "pkg.c"]]
    (root / "pkg/d.py").write_text("from . import e\n")
    assert import_cycles(import_graph(root, "pkg")) == [
        ["pkg.a", "pkg.b", "pkg.c"],
        ["pkg.d", "pkg.e"],
    ]


def test_the_checkers_find_planted_layering_violations(tmp_path):
    ok = {
        "liaviz/__init__.py": "from .nn import model\n",
        "liaviz/nn/__init__.py": "import torch\nfrom . import model\n",
        "liaviz/nn/model.py": "from .layers import conv\n",
        "liaviz/explore/__init__.py": "import ipywidgets\n",
        "liaviz/explore/view.py": "from IPython.display import display\n",
        "liaviz/core.py": "import plotly.graph_objects as go\nfig = go.Figure()\n",
        "liaviz/training/__init__.py": "",
        "liaviz/training/loop.py": "import accelerate\nfrom ..core import fig\n",
        "train/train.py": "import accelerate\nfrom liaviz import core\nfrom liaviz.training import loop\n",
    }
    root = _package(tmp_path, ok)
    assert nn_violations(import_graph(root, "liaviz")) == []
    assert jupyter_violations(root) == []
    assert long_files(root) == {}
    bad = {
        "liaviz/nn/model.py": "def save(m):\n    from ..checkpoint import save_model\n",
        "liaviz/core.py": "def show():\n    import ipywidgets.widgets\n    go.FigureWidget()\n",
        "liaviz/cli.py": "from .explore import view\nimport accelerate\n",
        "liaviz/data.py": "def later():\n    from .training.loop import fig\n",
        "train/loop.py": "from IPython import get_ipython\n" + "x = 1\n" * MAX_LINES,
    }
    _package(tmp_path, bad)
    assert nn_violations(import_graph(root, "liaviz")) == [
        "liaviz.nn.model:2 imports liaviz.checkpoint"
    ]
    assert jupyter_violations(root) == [
        "liaviz.cli:1 imports liaviz.explore.view (the widgets package)",
        "liaviz.cli:2 imports accelerate (training only)",
        "liaviz.core:2 imports ipywidgets.widgets",
        "liaviz.core:3 uses plotly's FigureWidget",
        "liaviz.data:2 imports liaviz.training.loop (the training package)",
        "train.loop:1 imports IPython",
    ]
    assert long_files(root) == {"train/loop.py": MAX_LINES + 1}


# ---- the rules on liaviz itself ----------------------------------------------------------------


def test_no_import_cycles(graph):
    """No group of liaviz modules imports itself round at import time (module-level imports;
    a deferred import inside a function is how a cycle is broken on purpose)."""
    cycles = import_cycles(graph)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_nn_imports_nothing_else_of_liaviz(graph):
    """The models are pure torch.nn: no I/O, no checkpoints, nothing of the rest of liaviz (at
    any depth, deferred imports included)."""
    bad = nn_violations(graph)
    assert not bad, "\n".join(bad)


def test_jupyter_only_in_explore_and_accelerate_only_in_training():
    """Jupyter packages (and plotly's widget figure) are imported only under liaviz/explore, and
    nothing else of liaviz imports liaviz.explore, deferred or not: the core and the command
    line run without Jupyter. train/ imports no Jupyter either. Accelerate and TensorBoard
    belong to liaviz/training (and train/), and the rest of liaviz never imports
    liaviz.training: the library is the same with or without the [train] extra."""
    bad = jupyter_violations(REPO)
    assert not bad, "\n".join(bad)


def test_no_source_file_over_450_lines():
    long = long_files(REPO)
    assert not long, "\n".join(f"{p}: {n} lines (at most {MAX_LINES})" for p, n in long.items())


# ---- in a fresh interpreter ----------------------------------------------------------------------

_PROBE = """
import contextlib, importlib, io, json, sys
import liaviz, liaviz.cli
for command in liaviz.cli.COMMANDS:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            liaviz.cli.main([command, "--help"])
        except SystemExit:
            pass
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def run_probe(probe: str, modules: list[str]) -> list[str]:
    """What ``probe`` (Python code given ``modules`` as JSON) prints last, in a fresh
    interpreter: the names it found in sys.modules."""
    out = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(modules)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_command_line_and_the_library_load_no_jupyter_or_accelerate():
    """``import liaviz``, every subcommand's ``--help`` and every liaviz module outside
    liaviz/explore and liaviz/training, imported in a fresh interpreter, leave no Jupyter or
    Accelerate package in sys.modules: ``pip install liaviz`` (no extras) is enough for them."""
    modules = [
        n
        for n in find_modules(REPO, "liaviz")
        if not within(n, WIDGETS_PACKAGE) and not within(n, TRAINING_PACKAGE)
    ]
    loaded = set(run_probe(_PROBE, modules))
    assert "liaviz.data.synthetic.rendering" in modules and set(modules) <= loaded
    assert sorted({top(m) for m in loaded} & (JUPYTER | TRAINING_ONLY)) == []
    assert sorted(m for m in loaded if within(m, TRAINING_PACKAGE)) == []


_ACCELERATE_PROBE = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_only_the_training_loop_loads_accelerate():
    """The options, the config reader, the loss terms and one step of liaviz/training import
    without Accelerate (benchmarks and tests use them alone); the loop and the run state need
    it, and really import it (else NEEDS_ACCELERATE is stale)."""
    training = [n for n in find_modules(REPO, "liaviz") if within(n, TRAINING_PACKAGE)]
    light = [n for n in training if n not in NEEDS_ACCELERATE]
    assert NEEDS_ACCELERATE < set(training) and "liaviz.training.terms" in light
    for names, wanted in ((light, []), (sorted(NEEDS_ACCELERATE), ["accelerate"])):
        loaded = set(run_probe(_ACCELERATE_PROBE, names))
        assert sorted(loaded & {"accelerate"}) == wanted, names
