"""Stages never import each other: what two stages share lives in the core (layout, pipeline)."""

from __future__ import annotations

import ast
from pathlib import Path

import mlci_action.stages

STAGES = Path(mlci_action.stages.__file__).parent


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x / from .train import y
                base = ".".join(["mlci_action", "stages", *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_no_stage_module_imports_another_stage_module() -> None:
    modules = sorted(p for p in STAGES.glob("*.py") if p.name != "__init__.py")
    stage_names = {f"mlci_action.stages.{p.stem}" for p in modules}
    assert len(stage_names) >= 9, stage_names  # the walk found the stages
    crossings = {
        path.name: sorted(_imported(path) & (stage_names - {f"mlci_action.stages.{path.stem}"}))
        for path in modules
    }
    assert {name: found for name, found in crossings.items() if found} == {}


def test_the_check_sees_a_crossing(tmp_path: Path) -> None:
    module = tmp_path / "package.py"
    module.write_text(
        "def f():\n    from mlci_action.stages.evaluate import SMOKE_CASES\n"
        "from .train import data_env\n",
        encoding="utf-8",
    )
    assert {"mlci_action.stages.evaluate", "mlci_action.stages.train"} <= _imported(module)
