"""The floor plan of liaviz, checked on the source: a top level of few modules, packages in
layers that import only downwards, one definition per public name, no aliased imports of liaviz
names, short functions, and a README whose Architecture section names every package.

``LAYERS`` is the rule the README's Architecture section states in words; every checker here is
also run on a planted violation, so each rule can fail."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import REPO
from .test_architecture import _package, import_graph

MAX_TOP_MODULES = 8  # modules at the top of liaviz/, besides its packages
MAX_FUNCTION_LINES = 120
# Bottom to top. A package imports only packages of lower layers (its own modules freely).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),  # the errors a user can fix
    (
        "numeric",
        "plain_data",
        "progress",
    ),  # numbers, plain data and progress bars people give or see
    ("nn",),  # the model, pure torch
    ("io",),  # images, videos, atomic writes
    ("checkpoints", "faces", "data"),  # model files; face detection and framing; datasets
    ("runtime",),  # device and precision, sources, driving clips
    ("analysis", "prepare"),  # what the directions do; raw videos to a dataset
    ("pipelines", "training"),  # animate and evaluate; the training loop
    ("demo",),  # the demo page and sample inputs
    ("explore",),  # Jupyter widgets
    ("commands", "cli"),  # argparse
)
# Names every command module defines: the protocol cli.py calls, not a library name.
COMMAND_PROTOCOL = {"register", "run", "EPILOG", "OUTPUT_FILES"}


def unit(module: str) -> str:
    """The top-level unit of a liaviz module: ``liaviz.io.images`` -> ``io``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_violations(graph, layers=LAYERS) -> list[str]:
    """Imports (deferred ones included) from a unit to one of the same or a higher layer."""
    rank = {name: i for i, row in enumerate(layers) for name in row}
    bad = set()
    for module, imports in graph.items():
        here = unit(module)
        for i in imports:
            there = unit(i.target)
            if not i.target.startswith("liaviz.") or not there or there == here or not here:
                continue
            if here not in rank or there not in rank or rank[there] >= rank[here]:
                bad.add(f"{module}:{i.line} imports {i.target} ({here} -> {there})")
    return sorted(bad)


def top_level_modules(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "liaviz").glob("*.py") if p.stem != "__init__")


def _defined_names(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if not n.startswith("_") and n != "__all__"]


def duplicate_names(root: Path) -> dict[str, list[str]]:
    """Public module-level names defined in more than one file of liaviz/ (re-exports are
    imports, not definitions; the command protocol is left out)."""
    where: dict[str, list[str]] = {}
    for path in sorted((root / "liaviz").rglob("*.py")):
        is_command = path.parent.name == "commands"
        for name in _defined_names(ast.parse(path.read_text())):
            if not (is_command and name in COMMAND_PROTOCOL):
                where.setdefault(name, []).append(str(path.relative_to(root)))
    return {n: files for n, files in where.items() if len(files) > 1}


def aliased_imports(root: Path) -> list[str]:
    """``from <liaviz> import x as y`` inside liaviz/: a name that needs an alias is a name
    that should change."""
    bad = []
    for path in sorted((root / "liaviz").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (
                node.level
                or (node.module or "") == "liaviz"
                or (node.module or "").startswith("liaviz.")
            ):
                bad += [
                    f"{path.relative_to(root)}:{node.lineno} {a.name} as {a.asname}"
                    for a in node.names
                    if a.asname
                ]
    return bad


def long_functions(root: Path, folders=("liaviz", "train", "benchmarks")) -> dict[str, int]:
    """``{file:function: lines}`` over the limit, outside the tests."""
    found = {}
    for folder in folders:
        if not (root / folder).is_dir():
            continue
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    n = node.end_lineno - node.lineno + 1
                    if n > MAX_FUNCTION_LINES:
                        found[f"{path.relative_to(root)}:{node.name}"] = n
    return found


def packages(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "liaviz").glob("*/__init__.py"))


def architecture_section(readme: str) -> str:
    match = re.search(r"^## Architecture\n(.*?)(?=^## )", readme, re.S | re.M)
    return match.group(1) if match else ""


def unnamed_packages(root: Path, readme: str) -> list[str]:
    """Packages of liaviz/ that the README's Architecture section does not name as
    ``liaviz/<package>/``."""
    section = architecture_section(readme)
    return [p for p in packages(root) if f"liaviz/{p}/" not in section]


# ---- the rules hold on the tree -----------------------------------------------------------------


def test_the_top_level_holds_few_modules():
    assert len(top_level_modules(REPO)) <= MAX_TOP_MODULES, top_level_modules(REPO)


def test_every_unit_has_a_layer_and_imports_only_downwards():
    units = {*packages(REPO), *top_level_modules(REPO)}
    assert units <= {n for row in LAYERS for n in row}, units - {n for row in LAYERS for n in row}
    assert layer_violations(import_graph(REPO, "liaviz")) == []


def test_no_public_name_is_defined_twice():
    assert duplicate_names(REPO) == {}


def test_no_liaviz_name_is_imported_under_an_alias():
    assert aliased_imports(REPO) == []


def test_no_function_is_longer_than_the_limit():
    assert long_functions(REPO) == {}


def test_the_readme_architecture_names_every_package():
    assert unnamed_packages(REPO, (REPO / "README.md").read_text()) == []


# ---- each checker finds a planted violation ------------------------------------------------------


def test_the_checkers_find_planted_house_plan_violations(tmp_path):
    root = _package(
        tmp_path,
        {
            "liaviz/__init__.py": "",
            "liaviz/errors.py": "class UserError(Exception):\n    pass\n",
            "liaviz/nn/__init__.py": "from ..io import read\n",  # upwards
            "liaviz/io/__init__.py": "from ..errors import UserError as Problem\n\ndef read():\n"
            + "    pass\n" * (MAX_FUNCTION_LINES + 1),
            "liaviz/data/__init__.py": "def read():\n    pass\n",  # a second `read`
            "liaviz/commands/__init__.py": "",
            "liaviz/commands/a.py": "def run():\n    pass\n",
            "liaviz/commands/b.py": "def run():\n    pass\n",  # the protocol: fine
        },
    )
    (root / "train").mkdir()
    assert layer_violations(import_graph(root, "liaviz")) == [
        "liaviz.nn:1 imports liaviz.io (nn -> io)"
    ]
    assert duplicate_names(root) == {"read": ["liaviz/data/__init__.py", "liaviz/io/__init__.py"]}
    assert aliased_imports(root) == ["liaviz/io/__init__.py:1 UserError as Problem"]
    assert long_functions(root) == {"liaviz/io/__init__.py:read": MAX_FUNCTION_LINES + 2}
    readme = "# x\n## Architecture\n`liaviz/nn/` the model, `liaviz/io/` media\n## Licence\n"
    assert unnamed_packages(root, readme) == ["commands", "data"]
    assert unnamed_packages(root, readme.replace("## Architecture", "## Layout")) == packages(root)
    for n in range(MAX_TOP_MODULES):
        (root / "liaviz" / f"m{n}.py").write_text("")
    assert len(top_level_modules(root)) == MAX_TOP_MODULES + 1  # errors.py and eight more
