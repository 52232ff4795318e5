"""The import graph of prunekit/: no cycles (not even through imports inside functions), layers run one way.

The graph is read from the source with :mod:`ast`, so it sees every import statement wherever it
sits: at module level, inside functions and methods, under ``try``. ``from package import name``
is an edge to the submodule ``package.name`` when that file exists, else to the package itself;
relative imports are resolved; ``importlib.import_module("prunekit....")`` with a literal name
counts too. Only imports under ``if TYPE_CHECKING:`` are left out (they never run).

Layers: core ← run ← report ← teach, with cli on top: core imports no run/report/teach/cli, run no
report/teach/cli, report no teach/cli.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "prunekit"

FORBIDDEN = {
    "prunekit.core": ("prunekit.run", "prunekit.report", "prunekit.teach", "prunekit.cli"),
    "prunekit.run": ("prunekit.report", "prunekit.teach", "prunekit.cli"),
    "prunekit.report": ("prunekit.teach", "prunekit.cli"),
}


def module_names(package: Path) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file under ``package``."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST):
    """Every node of the tree except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the package's modules it imports anywhere in its source."""
    modules = module_names(package)
    root = package.name
    graph: dict[str, set[str]] = {name: set() for name in modules}

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _statements(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.append(submodule if submodule in modules else source)
            elif (
                isinstance(node, ast.Call)
                and (
                    (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                    or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
                )
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                targets = [node.args[0].value]
            for target in targets:
                if target == root or target.startswith(root + "."):
                    resolved = resolve(target)
                    if resolved is not None and resolved != name:
                        graph[name].add(resolved)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected component of size > 1."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    found = []
    for component in components:
        members = set(component)
        start = component[0]
        path, seen = [start], {start}
        # walk inside the component until we come back to the start
        while True:
            here = path[-1]
            nexts = sorted(graph[here] & members)
            if start in nexts and len(path) > 1:
                found.append(path + [start])
                break
            step = next((n for n in nexts if n not in seen), None)
            if step is None:  # dead end inside the component: report the component itself
                found.append(component + [component[0]])
                break
            path.append(step)
            seen.add(step)
    return found


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """``"importer -> imported"`` for every import against the layers."""
    bad = []
    for module, imported in sorted(graph.items()):
        for layer, banned in FORBIDDEN.items():
            if module == layer or module.startswith(layer + "."):
                for target in sorted(imported):
                    if any(target == b or target.startswith(b + ".") for b in banned):
                        bad.append(f"{module} -> {target}")
    return bad


# --------------------------------------------------------------------------- the checker itself


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    package = tmp_path / "prunekit"
    files = {
        "__init__.py": "from prunekit.core import a\n",
        "core/__init__.py": "",
        "core/a.py": "def f():\n    from prunekit.run import b\n",
        "run/__init__.py": "",
        "run/b.py": "import prunekit.core.a\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from prunekit.teach import c\n",
        "teach/__init__.py": "",
        "teach/c.py": "from . import d\nfrom prunekit import cli\n",
        "teach/d.py": "import importlib\nimportlib.import_module('prunekit.teach.c')\n",
        "cli.py": "from prunekit.teach.c import thing\n",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    return package


def test_the_checker_sees_imports_inside_functions_relative_and_dynamic_ones(toy: Path) -> None:
    graph = import_graph(toy)
    assert graph["prunekit.core.a"] == {"prunekit.run.b"}, "an import inside a function is an edge"
    assert graph["prunekit.run.b"] == {"prunekit.core.a"}, "TYPE_CHECKING imports are left out"
    assert graph["prunekit.teach.c"] == {"prunekit.teach.d", "prunekit.cli"}, "from-imports resolve to submodules"
    assert graph["prunekit.teach.d"] == {"prunekit.teach.c"}, "import_module with a literal name is an edge"
    found = {tuple(c) for c in cycles(graph)}
    assert ("prunekit.core.a", "prunekit.run.b", "prunekit.core.a") in found
    assert ("prunekit.cli", "prunekit.teach.c", "prunekit.cli") in found
    assert len(found) == 2, found
    assert layer_violations(graph) == ["prunekit.core.a -> prunekit.run.b"]


# --------------------------------------------------------------------------- prunekit itself


def test_prunekit_has_no_import_cycle() -> None:
    found = cycles(import_graph(PACKAGE))
    assert not found, "import cycles (each a path back to its start):\n" + "\n".join(" -> ".join(c) for c in found)


def test_imports_run_one_way_from_the_faces_down_to_the_core() -> None:
    bad = layer_violations(import_graph(PACKAGE))
    assert not bad, "imports against the layers (core <- run <- report <- teach, cli):\n" + "\n".join(bad)


def test_no_module_imports_the_version_from_the_package_init() -> None:
    users = []
    for name, path in module_names(PACKAGE).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "prunekit" and any(
                alias.name == "__version__" for alias in node.names
            ):
                users.append(name)
    assert not users, f"use prunekit.run.resources.package_version() instead of prunekit.__version__ in {users}"


def test_import_prunekit_in_a_fresh_interpreter() -> None:
    code = textwrap.dedent(
        """
        import sys
        import prunekit
        print(prunekit.__version__)
        print(sorted(m for m in sys.modules if m.startswith("prunekit.teach") or m.startswith("prunekit.report")))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    version, faces = done.stdout.splitlines()[-2:]
    assert version.strip() not in ("", "None")
    assert faces == "[]", f"import prunekit loads no teaching or report module; it loaded {faces}"
