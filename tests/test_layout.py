"""The package's layout: its top-level subpackages import one another in one direction only."""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from itertools import pairwise
from pathlib import Path

import mlci_action

PACKAGE = Path(mlci_action.__file__).parent


def subpackages() -> set[str]:
    return {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def imported(module: Path) -> set[str]:
    """Every ``mlci_action.…`` module that ``module`` imports, at any depth of its code
    (imports inside functions count: they are edges all the same)."""
    parts = module.relative_to(PACKAGE.parent).with_suffix("").parts
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"), str(module))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                anchor = parts[: len(parts) - node.level]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("mlci_action.")}


def subpackage_graph() -> dict[str, dict[str, set[str]]]:
    """For each subpackage, the other subpackages it imports, with the files that do."""
    inside = subpackages()
    graph: dict[str, dict[str, set[str]]] = {name: defaultdict(set) for name in inside}
    for module in PACKAGE.rglob("*.py"):
        owner = module.relative_to(PACKAGE).parts[0]
        if owner not in inside:
            continue
        for name in imported(module):
            target = name.split(".")[1]
            if target in inside and target != owner:
                graph[owner][target].add(str(module.relative_to(PACKAGE)))
    return graph


def test_the_walk_sees_imports_at_any_depth():
    module = PACKAGE / "executors" / "__init__.py"
    assert "mlci_action.executors.docker" in imported(module)  # imported inside a function
    assert "mlci_action.images.docker_api" in imported(module)


def test_no_import_cycle_between_subpackages():
    graph = subpackage_graph()
    assert any(graph.values()), "the walk found no import between subpackages at all"
    try:
        order = list(TopologicalSorter({k: set(v) for k, v in graph.items()}).static_order())
    except CycleError as exc:
        cycle = exc.args[1]  # each node a predecessor of the next: it is imported by it
        steps = [
            f"{user} imports {used} ({', '.join(sorted(graph[user][used]))})"
            for used, user in pairwise(cycle)
        ]
        raise AssertionError("import cycle between subpackages:\n" + "\n".join(steps)) from None
    assert set(order) == subpackages()


def test_executors_use_images_and_images_never_use_executors():
    graph = subpackage_graph()
    assert "images" in graph["executors"]
    assert "executors" not in graph["images"], graph["images"]["executors"]
