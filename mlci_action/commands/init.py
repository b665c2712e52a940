"""`mlci init`: scaffold mlci.yaml and a pandera schema inferred from the training data."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from rich.console import Console

from mlci_action.cache import atomic_write
from mlci_action.config import CONFIG_FILE, load_config
from mlci_action.errors import InputError
from mlci_action.preflight import check_data_file

SCHEMA_FILE = "schema.yaml"


def _infer_task(target: object) -> str:
    import pandas as pd

    series = pd.Series(target)
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return "classification"
    if pd.api.types.is_integer_dtype(series) and series.nunique() <= 20:
        return "classification"
    return "regression"


def _widen(column: dict[str, object]) -> None:
    """Observed min/max are too tight for new data: widen numeric ranges by 10 % of the span,
    never below zero for a column that had no negative values."""
    low, high = column.get("greater_than_or_equal_to"), column.get("less_than_or_equal_to")
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return
    margin = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    new_low = low - margin
    if low >= 0:
        new_low = max(0.0, new_low)
    column["greater_than_or_equal_to"] = round(new_low, 6)
    column["less_than_or_equal_to"] = round(high + margin, 6)


def _write_workflow(project: Path, force: bool, console: Console) -> None:
    from mlci_action import git

    root = git.repo_root(project) or project
    path = root / ".github" / "workflows" / "mlci.yml"
    if path.exists() and not force:
        raise InputError(f"{path} already exists", hint="pass --force to overwrite it")
    config = project.relative_to(root).as_posix() if project != root else "."
    text = (
        Environment(loader=PackageLoader("mlci_action", "templates"), undefined=StrictUndefined)
        .get_template("workflow.yml.j2")
        .render(config=config, branch="main")
    )
    atomic_write(path, text)
    console.print(f"[green]✔[/] wrote {path.relative_to(root)} (pin the action to a commit sha)")


def init(args: argparse.Namespace, console: Console) -> int:
    project: Path = args.project.resolve()
    config_path, schema_path = project / CONFIG_FILE, project / SCHEMA_FILE
    for path in (config_path, schema_path):
        if path.exists() and not args.force:
            raise InputError(f"{path} already exists", hint="pass --force to overwrite it")
    check_data_file(project, args.train, "--train", args.target)
    check_data_file(project, args.test, "--test", args.target)
    import pandera.pandas as pa
    import yaml

    from mlci_action.worker.frames import read_table

    frame = read_table(project / args.train, what="training data")
    task = args.task or _infer_task(frame[args.target])
    schema = yaml.safe_load(pa.infer_schema(frame).to_yaml() or "{}")
    schema.pop("index", None)
    for column in (schema.get("columns") or {}).values():
        _widen(column)
    schema["coerce"] = True
    name = args.name or re.sub(r"[^a-z0-9._-]+", "-", project.name.lower()).strip("-.") or "model"
    estimator = (
        "sklearn.ensemble.RandomForestClassifier"
        if task == "classification"
        else "sklearn.linear_model.Ridge"
    )
    text = (
        Environment(loader=PackageLoader("mlci_action", "templates"), undefined=StrictUndefined)
        .get_template("mlci.yaml.j2")
        .render(
            name=name,
            train=args.train,
            test=args.test,
            target=args.target,
            schema=SCHEMA_FILE,
            task=task,
            estimator=estimator,
            requirements=(project / "requirements.txt").is_file(),
        )
    )
    atomic_write(schema_path, yaml.safe_dump(schema, sort_keys=False))
    if not (project / "requirements.txt").is_file():
        atomic_write(project / "requirements.txt", "scikit-learn>=1.3\npandas>=2.1\nskops>=0.10\n")
        console.print("[green]✔[/] wrote requirements.txt")
    atomic_write(config_path, text)
    load_config(project)  # what we wrote must be valid
    if getattr(args, "workflow", False):
        _write_workflow(project, args.force, console)
    console.print(
        f"[green]✔[/] wrote {SCHEMA_FILE} (inferred from {args.train}: review its ranges)"
    )
    console.print(
        f"[green]✔[/] wrote {CONFIG_FILE} ({task}); next: `mlci validate`, then `mlci run`"
    )
    return 0
