"""mlci.yaml from what init worked out: pure rendering of a jinja2 template, no I/O."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined

from mlci_action.metrics import Task
from mlci_action.scaffold.choose import EvaluationChoice
from mlci_action.scaffold.tune import CheckSetting


@dataclass(frozen=True)
class Plan:
    name: str
    train: str
    test: str
    target: str
    schema: str
    task: Task
    checks: tuple[CheckSetting, ...]
    evaluation: EvaluationChoice
    command: str | None = None
    """``training.command``; None: mlci fits ``estimator``."""
    estimator: str | None = None


def flow(value: Any) -> str:
    """``value`` as one line of YAML: a flow mapping or list, or a scalar quoted if needed."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 20)
    return text.strip().removesuffix("...").strip()


def comment(text: str, indent: int = 0, width: int = 100) -> str:
    """``text`` as YAML comment lines of at most ``width`` characters, indented."""
    prefix = " " * indent + "# "
    return "\n".join(prefix + line for line in textwrap.wrap(text, width - len(prefix)))


def render_config(plan: Plan) -> str:
    environment = Environment(
        loader=PackageLoader("mlci_action", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["flow"] = flow
    environment.filters["comment"] = comment
    return environment.get_template("mlci.yaml.j2").render(
        name=plan.name,
        train=plan.train,
        test=plan.test,
        target=plan.target,
        schema=plan.schema,
        task=plan.task,
        checks=plan.checks,
        evaluation=plan.evaluation,
        command=plan.command,
        estimator=plan.estimator,
    )
