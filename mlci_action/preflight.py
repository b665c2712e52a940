"""Checks of every input a run needs, done once at entry, before any work starts."""

from __future__ import annotations

import ast
import csv
import difflib
from pathlib import Path
from typing import Any

import yaml

from mlci_action import git
from mlci_action.column_values import column_values
from mlci_action.config import CONFIG_FILE, Config
from mlci_action.dataset import check_partitioned, is_partitioned, is_url
from mlci_action.errors import ConfigError, InputError
from mlci_action.executors.base import check_environment_files
from mlci_action.metrics import CATALOG
from mlci_action.params import load_params
from mlci_action.paths import check_paths, located
from mlci_action.worker.positive import resolve_positive
from mlci_action.yamlfile import yaml_problem


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
                reader = csv.reader(
                    handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ","
                )
                header = next(reader, [])
                has_rows = any(row for row in reader)  # stops at the first non-empty row
        except UnicodeDecodeError:
            raise InputError(
                f"{path}: data file is not UTF-8 text", hint="save it as UTF-8 CSV"
            ) from None
        except csv.Error as exc:  # its messages name the problem, not the text
            raise InputError(
                f"{path}:{reader.line_num}: data file cannot be parsed as CSV: {exc}"
            ) from None
        if target not in header:
            raise InputError(
                f"{path}:1: target column {target!r} is not in the header: "
                f"none of its {len(header)} columns is named {target!r}",
                hint=f"set {_where('data.target')} to the target column's name as line 1 of "
                f"{name} spells it{_did_you_mean(target, header)}",
            )
        if not has_rows:
            raise InputError(
                f"{path}: data file has a header but no data rows",
                hint=f"export the data again with its rows, or fix {_where(key)}",
            )


def _did_you_mean(name: str, names: list[str]) -> str:
    """``"; did you mean 'X'?"`` for a name in ``names`` that is essentially ``name``, or "".

    Error messages never show a file's contents (the file may not be what the user thinks it
    is), so the header is not listed. One suggestion is shown only when it differs from what
    the user typed by case or a slip (similarity >= 0.8): then it tells nothing new about the
    file.
    """
    folded = [n for n in names if n.casefold() == name.casefold()]
    close = folded or difflib.get_close_matches(name, names, n=1, cutoff=0.8)
    return f"; did you mean {close[0]!r}?" if close else ""


def _mentions(tree: ast.Module, name: str) -> bool:
    """Whether the module could bind ``name``: it appears as an identifier, an import, a string
    (``type("X", ...)``, ``globals()["X"]``), or the module star-imports."""
    for node in ast.walk(tree):
        if isinstance(node, ast.alias) and (node.name == "*" or name in (node.asname, node.name)):
            return True
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name == name:
                return True
        elif (
            (isinstance(node, ast.Name) and node.id == name)
            or (isinstance(node, ast.Attribute) and node.attr == name)
            or (isinstance(node, ast.Constant) and node.value == name)
        ):
            return True
    return False


def check_schema_file(project: Path, spec: str) -> None:
    """Cheap checks of the schema file at entry: it exists, parses, and can define the class.

    Only certain failures are reported here (a syntax error, a name the file never mentions);
    the data tests import the file and report the rest. Messages name line and column, never
    the file's text.
    """
    name, _, cls = spec.partition(":")
    path = project / name
    if not path.is_file():
        raise ConfigError(f"{path}: schema file named in {_where('data.schema')} not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".py":
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:  # exc.msg names the problem; str(exc) would quote the line
            where = f":{exc.lineno}" if exc.lineno else ""
            where += f":{exc.offset}" if exc.lineno and exc.offset else ""
            raise InputError(
                f"{path}{where}: syntax error in the schema file: {exc.msg}",
                hint=f"fix that line; `python -m py_compile {path}` shows the same error",
            ) from None
        except ValueError:  # null bytes (a SyntaxError from Python 3.12 on)
            raise InputError(
                f"{path}: the schema file holds null bytes, it is not Python source"
            ) from None
        if cls and not _mentions(tree, cls):
            defined = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
            raise InputError(
                f"{path}: defines no {cls!r} (named in {_where('data.schema')})",
                hint="point data.schema at the pandera DataFrameModel class: 'schema.py:ClassName'"
                + _did_you_mean(cls, defined),
            )
    else:
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where, problem = yaml_problem(exc)
            raise InputError(
                f"{path}{where}: the schema is not valid YAML: {problem}",
                hint="check the indentation and quoting at that line and column",
            ) from None


_NA_VALUES = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"}
    | {"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)
"""pandas' default missing-value markers: the worker's read_csv drops these labels too."""


def _typed(values: set[str]) -> list[Any]:
    """CSV text as pandas would type the column: all integers, all numbers, all booleans,
    or text."""
    for kind in (int, float):
        try:
            return sorted({kind(v) for v in values})
        except ValueError:
            continue
    if values and values <= {"True", "False", "TRUE", "FALSE", "true", "false"}:
        return sorted({v.lower() == "true" for v in values})
    return sorted(values)


def _target_labels(path: Path, target: str) -> list[Any] | None:
    """The distinct values of the target column, as the worker's pandas reads them, or None
    when this interpreter cannot read the file (Parquet in the action's image, which has no
    pandas: the worker checks it, before training, in the project's environment)."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            return None
        try:
            column = pq.read_table(path, columns=[target]).column(target).drop_null().unique()
        except (OSError, KeyError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise InputError(
                f"{path}: cannot read the target column {target!r}: {first}",
                hint=f"check {_where('data.train')} and {_where('data.target')}",
            ) from None
        return list(column.to_pylist())
    # the header was checked by check_data_file: the target is one of its columns
    values = column_values(path, target, "\t" if suffix == ".tsv" else ",")
    return _typed(values - _NA_VALUES)


def check_positive_class(project: Path, config: Config) -> None:
    """Binary metrics need a positive class: the training file's labels must make it obvious,
    or evaluation.positive_class must name one of them. Checked before anything trains."""
    evaluation = config.evaluation
    if evaluation.task != "classification":
        return
    binary = [name for name in evaluation.metric_names if CATALOG[name].needs_positive]
    if not binary and evaluation.positive_class is None:
        return
    if is_partitioned(project, config.data.train):
        return  # the worker resolves it against the partitions' labels
    path, target = project / config.data.train, config.data.target
    labels = _target_labels(path, target)
    if labels is None:
        return
    where = f"{path}: target column {target!r}"
    if binary and len(labels) > 2:
        raise InputError(
            f"{where} holds {len(labels)} classes, but metric {binary[0]!r} "
            f"({_where('evaluation.metrics')}) is for binary classification",
            hint=CATALOG[binary[0]].binary,
        )
    try:
        resolve_positive(labels, evaluation.positive_class)
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}", hint=exc.hint) from None


def check_reachable(project: Path, config: Config, executor: str) -> None:
    """A data URL is read by mlci's own processes and the project's tasks where they run: the
    docker executor's containers have no host files, no credentials and (by default) no network,
    so a URL there is refused now rather than failing mid-run."""
    if executor != "docker":
        return
    for key, spec in (("data.train", config.data.train), ("data.test", config.data.test)):
        if is_url(spec):
            raise ConfigError(
                f"{located(project, key, spec)} is a URL, which the docker executor's "
                "containers cannot read (no host files, credentials or network)",
                hint="name a file or folder inside the checkout (data.prepare can copy it "
                "there), or run with environment.executor: local or ray",
            )


def check_inputs(project: Path, config: Config) -> None:
    """Every input of a run, before anything is read, built or written; paths first: no file
    outside the project directory is ever opened."""
    check_paths(project, config)
    data = config.data
    for key, spec in (("data.train", data.train), ("data.test", data.test)):
        if is_partitioned(project, spec):
            check_partitioned(project, spec, located(project, key, spec), data.target)
        else:
            check_data_file(project, spec, key, data.target)
    if data.schema_:
        check_schema_file(project, data.schema_)
    check_positive_class(project, config)
    if config.model_tests is not None and not (project / config.model_tests.path).exists():
        raise ConfigError(
            f"{project / config.model_tests.path}: model tests path named in {_where('model_tests.path')} "
            "does not exist",
            hint="create the tests, or remove model_tests from mlci.yaml",
        )
    if config.environment.executor != "current":
        check_environment_files(project, config.environment)
    load_params(project, config)


def check_push(project: Path, allow_dirty: bool) -> None:
    """``--push`` ships committed code only: uncommitted changes (or no git repository) are
    an input error naming them, unless ``--allow-dirty`` (a ``wt-`` tag, no moving tag)."""
    if allow_dirty:
        return
    root = git.repo_root(project)
    if root is None:
        raise InputError(
            f"{project}: --push needs a git repository (the image is tagged with the commit)",
            hint="commit the project, or add --allow-dirty to push a wt- tag only",
        )
    rel = project.resolve().relative_to(root.resolve()).as_posix()
    changed = git.dirty_files(root, "" if rel == "." else rel)
    if changed:
        shown = ", ".join(changed[:10]) + (
            f" and {len(changed) - 10} more" if len(changed) > 10 else ""
        )
        raise InputError(
            f"--push with uncommitted changes ({len(changed)}): {shown}",
            hint="commit or stash them; --allow-dirty pushes a wt- tag only, never a moving tag",
        )
