"""Checks of every input a run needs, done once at entry, before any work starts."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import yaml

from mlci_action.config import CONFIG_FILE, Config
from mlci_action.errors import ConfigError, InputError
from mlci_action.executors.base import check_environment_files
from mlci_action.params import load_params


def _where(config_key: str) -> str:
    return f"{CONFIG_FILE} ({config_key})"


def check_data_file(project: Path, name: str, key: str, target: str) -> None:
    path = project / name
    if not path.is_file():
        raise InputError(f"{path}: data file not found", hint=f"fix {_where(key)} or add the file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: data file is empty", hint="it needs a header row and data rows")
    if path.suffix.lower() in (".csv", ".tsv"):
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                header = next(
                    csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ","), []
                )
        except UnicodeDecodeError:
            raise InputError(
                f"{path}: data file is not UTF-8 text", hint="save it as UTF-8 CSV"
            ) from None
        except csv.Error as exc:
            raise InputError(f"{path}: data file cannot be parsed as CSV: {exc}") from None
        if target not in header:
            shown = ", ".join(header[:20]) or "(none)"
            raise InputError(
                f"{path}: target column {target!r} is not in the header (columns: {shown})",
                hint=f"set {_where('data.target')} to one of the columns",
            )


def check_schema_file(project: Path, spec: str) -> None:
    """Cheap checks of the schema file at entry: it exists, parses, and defines the class."""
    name, _, cls = spec.partition(":")
    path = project / name
    if not path.is_file():
        raise ConfigError(f"{path}: schema file named in {_where('data.schema')} not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".py":
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            raise InputError(
                f"{path}:{exc.lineno}: syntax error in the schema file: {exc.msg}",
                hint=f"fix line {exc.lineno}; `python -m py_compile {path}` shows the same error",
            ) from None
        defined = {node.name for node in tree.body if isinstance(node, ast.ClassDef)} | {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        if cls not in defined:
            shown = ", ".join(sorted(defined)) or "none"
            raise InputError(
                f"{path}: defines no {cls!r} (named in {_where('data.schema')}); top-level names: {shown}",
                hint="point data.schema at the pandera DataFrameModel class: 'schema.py:ClassName'",
            )
    else:
        try:
            yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
            raise InputError(
                f"{path}:{line}: the schema is not valid YAML: {exc.problem}"
            ) from None


def check_inputs(project: Path, config: Config) -> None:
    data = config.data
    check_data_file(project, data.train, "data.train", data.target)
    check_data_file(project, data.test, "data.test", data.target)
    if data.schema_:
        schema_path = project / data.schema_.partition(":")[0]
        if not schema_path.is_file():
            raise ConfigError(
                f"{schema_path}: schema file named in {_where('data.schema')} not found"
            )
    if config.model_tests is not None and not (project / config.model_tests.path).exists():
        raise ConfigError(
            f"{project / config.model_tests.path}: model tests path named in {_where('model_tests.path')} "
            "does not exist",
            hint="create the tests, or remove model_tests from mlci.yaml",
        )
    if config.environment.executor != "current":
        check_environment_files(project, config.environment)
    load_params(project, config)
