"""The package's shape: no import cycle between its modules, and no module longer than MAX_LINES.

Imports are read with `ast`, wherever they stand (a function-level import counts: importing lazily
does not remove a cycle, it hides it); only imports under `if TYPE_CHECKING:` are left out, since
they never run.
"""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "assistant"
MAX_LINES = 450
# modules still over MAX_LINES while others split them; the coordinator empties this after merging
LONG_MODULES_BEING_SPLIT: frozenset[str] = frozenset()


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(source: str, modules: set[str]) -> set[str]:
    """The package's modules (names in `modules`) that `source`, a module of the package, imports at
    run time: relative imports and `assistant.X` imports, at any depth but outside `if TYPE_CHECKING:`."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            absolute = node.level == 0 and (node.module or "").split(".")[0] == "assistant"
            if node.level == 1 or absolute:
                parts = (node.module or "").split(".")[1 if absolute else 0:]
                found.update([parts[0]] if parts and parts[0] else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[1] for alias in node.names
                         if alias.name.startswith("assistant."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found & modules


def import_graph(package: Path) -> dict[str, set[str]]:
    """{module: the package's modules it imports} for every module of `package` but `__init__`."""
    modules = {path.stem for path in package.glob("*.py")} - {"__init__"}
    return {name: imported_modules((package / f"{name}.py").read_text(encoding="utf-8"), modules) - {name}
            for name in sorted(modules)}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that starts and ends at the same module, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := walk(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph(PACKAGE))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_a_lazy_import_still_counts_as_an_edge_of_the_graph(tmp_path):
    (tmp_path / "first.py").write_text("from .second import thing\n")
    (tmp_path / "second.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                        "    from .third import other\n\ndef f():\n    from .first import thing\n")
    (tmp_path / "third.py").write_text("import assistant.first\n")
    graph = import_graph(tmp_path)
    assert graph == {"first": {"second"}, "second": {"first"}, "third": {"first"}}
    assert find_cycle(graph) == ["first", "second", "first"]
    assert find_cycle({"first": {"second"}, "second": set(), "third": {"first"}}) is None


def test_no_module_is_longer_than_the_limit():
    long = {path.name: n for path in PACKAGE.glob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert set(long) <= LONG_MODULES_BEING_SPLIT, {name: n for name, n in long.items()
                                                   if name not in LONG_MODULES_BEING_SPLIT}
