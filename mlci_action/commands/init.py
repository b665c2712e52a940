"""`mlci init`: scaffold mlci.yaml, a pandera schema and a .gitignore entry from the data files.

What to write is worked out in :mod:`mlci_action.scaffold`; this module reads the files, writes
the results (atomically) and says what to run next.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from rich.console import Console
from rich.markup import escape

from mlci_action.cache import atomic_write
from mlci_action.config import CONFIG_FILE, load_config
from mlci_action.errors import InputError
from mlci_action.preflight import check_data_file

SCHEMA_FILE = "schema.yaml"
REQUIREMENTS = "requirements.txt"
TRAIN_SCRIPT = "train.py"
ESTIMATORS = {
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
}
"""Fast, and missing values need no imputation; preprocess: auto encodes the text columns."""
_SCHEMA_HEADER = (
    "# pandera schema, written by `mlci init` from {train} and {test}.\n"
    "# Every row of both files must pass it. Ranges cover both files, widened; isin lists the\n"
    "# values seen. Tighten it to what is valid; widen it when new data is genuinely different.\n"
)


def _write_workflow(project: Path, force: bool, console: Console) -> Path:
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
    return path


def init(args: argparse.Namespace, console: Console) -> int:
    project: Path = args.project.resolve()
    config_path, schema_path = project / CONFIG_FILE, project / SCHEMA_FILE
    for path in (config_path, schema_path):
        if path.exists() and not args.force:
            raise InputError(f"{path} already exists", hint="pass --force to overwrite it")
    check_data_file(project, args.train, "--train", args.target)
    check_data_file(project, args.test, "--test", args.target)
    import yaml

    from mlci_action.scaffold.choose import choose
    from mlci_action.scaffold.infer import Data, infer_task, schema_document
    from mlci_action.scaffold.render import Plan, render_config
    from mlci_action.scaffold.tune import tune_checks
    from mlci_action.worker.frames import read_table

    train = read_table(project / args.train, what="training data")
    test = read_table(project / args.test, what="test data")
    task = args.task or infer_task(train[args.target])
    data = Data(train, test, args.target, task)
    command = getattr(args, "training_command", None)
    if command is None and (project / TRAIN_SCRIPT).is_file():
        command = f"python {TRAIN_SCRIPT}"
    plan = Plan(
        name=args.name
        or re.sub(r"[^a-z0-9._-]+", "-", project.name.lower()).strip("-.")
        or "model",
        train=args.train,
        test=args.test,
        target=args.target,
        schema=SCHEMA_FILE,
        task=task,
        checks=tune_checks(data),
        evaluation=choose(task, train[args.target], test[args.target]),
        command=command,
        estimator=None if command else ESTIMATORS[task],
    )
    schema = yaml.safe_dump(
        schema_document(data), sort_keys=False, default_flow_style=None, allow_unicode=True
    )
    atomic_write(schema_path, _SCHEMA_HEADER.format(train=args.train, test=args.test) + schema)
    written = [CONFIG_FILE, SCHEMA_FILE]
    if not (project / REQUIREMENTS).is_file():
        atomic_write(project / REQUIREMENTS, "pandas>=2.1\nscikit-learn>=1.3\nskops>=0.10\n")
        console.print(f"[green]✔[/] wrote {REQUIREMENTS}")
        written.append(REQUIREMENTS)
    atomic_write(config_path, render_config(plan))
    load_config(project)  # what we wrote must be valid
    written += _ignore_mlci(project, console)
    if getattr(args, "workflow", False):
        workflow = _write_workflow(project, args.force, console)
        written.append(os.path.relpath(workflow, project))
    console.print(
        f"[green]✔[/] wrote {SCHEMA_FILE} (from {escape(args.train)} and {escape(args.test)}: "
        "review its ranges and allowed values)"
    )
    training = f"`{command}`" if command else plan.estimator
    console.print(f"[green]✔[/] wrote {CONFIG_FILE} ({task}, trains with {escape(str(training))})")
    for check in plan.checks:
        if check.reasons and check.name != "drift":
            console.print(
                f"  [yellow]![/] data.checks.{check.name}: {escape(' '.join(check.reasons))}"
            )
    _print_next(project, [*written, args.train, args.test], console)
    return 0


def _ignore_mlci(project: Path, console: Console) -> list[str]:
    from mlci_action.scaffold.gitignore import ENTRY, with_entry

    path = project / ".gitignore"
    text = with_entry(path.read_text(encoding="utf-8") if path.is_file() else None)
    if text is None:
        return []
    atomic_write(path, text)
    console.print(f"[green]✔[/] added {ENTRY} to .gitignore (run output and images stay local)")
    return [".gitignore"]


def _print_next(project: Path, files: list[str], console: Console) -> None:
    where = os.path.relpath(project)
    if where.startswith(".."):
        where = str(project)
    at = "" if where == "." else f" {shlex.quote(where)}"
    git = "git" if where == "." else f"git -C {shlex.quote(where)}"
    paths = " ".join(shlex.quote(f) for f in dict.fromkeys(files))
    console.print("next:")
    console.print(f"  mlci validate{escape(at)}")
    console.print(f"  mlci run{escape(at)}")
    console.print(f"  {escape(git)} add {escape(paths)} && {escape(git)} commit -m 'Add mlci'")
