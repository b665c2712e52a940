"""Trusted configuration: on a pull request, what the PR may not decide comes from its base.

A pull request controls what is trained and tested, never where, with what privileges, or
what happens to the result. So on pull-request events the security settings of ``mlci.yaml``
(:data:`TRUSTED`) are read from the base commit, the merge target, and the PR's own values
are reported and ignored ("they take effect after merge"). The PR's gates are used, since they
are what a reviewer approves, but every change to them is shown first in the report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from mlci_action import git
from mlci_action.config import (
    CONFIG_FILE,
    Config,
    Deploy,
    Environment,
    Gate,
    Monitoring,
    Prepare,
    Resources,
)
from mlci_action.errors import InputError
from mlci_action.record import SettingChange, TrustReport

ENVIRONMENT_KEYS = ("executor", "network", "pass_env", "memory", "pids", "ray")
"""Where and with what the PR's code runs."""
TRUSTED = (
    "deploy",
    *(f"environment.{key}" for key in ENVIRONMENT_KEYS),
    "evaluation.trusted_types",
    "training.resources",
    "monitoring",
    "data.prepare",
)
"""The settings a pull request cannot change for its own run (training.resources choose the
nodes of a Ray cluster: where, not what)."""
DATA_LOCATIONS = ("train", "test")
"""``data.train`` / ``data.test``: a path in the checkout is the PR's to choose (what is
trained); a URL (``file://``, ``s3://``, ``gs://``) is read with the runner's own filesystem
and credentials, so a URL the base does not name is where, not what: the base's value wins."""
SANDBOXED = ("docker", "auto")
"""Executors that run a pull request's code in a container (auto: docker, or an error)."""
CLUSTER = ("ray",)
"""Executors that run a pull request's code on the team's cluster, chosen by the base branch."""


def _flat(value: Any, prefix: str) -> dict[str, str]:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict) and value:
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat.update(_flat(item, f"{prefix}.{key}"))
        return flat
    return {prefix: json.dumps(value, sort_keys=True)}


def _changes(base: dict[str, str], head: dict[str, str]) -> list[SettingChange]:
    return [
        SettingChange(key=key, base=base.get(key), head=head.get(key))
        for key in sorted(base.keys() | head.keys())
        if base.get(key) != head.get(key)
    ]


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    section = raw.get(name)
    return section if isinstance(section, dict) else {}


def _valid(model: type[Monitoring] | type[Prepare], value: object) -> Any:
    """The section as ``model`` (a string is a prepare command), None where it is absent or
    not valid (the safe reading: no log to monitor, no prepare command)."""
    if isinstance(value, str) and model is Prepare:
        value = {"command": value}
    if not isinstance(value, dict):
        return None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _base_settings(
    text: str | None,
) -> tuple[Environment, Deploy, list[str], dict[str, Gate], Resources]:
    """The trusted settings of the base commit's mlci.yaml; mlci's defaults where it has none
    (a PR that adds mlci) or where its values are not valid (safe defaults: nothing ships)."""
    try:
        raw = yaml.safe_load(text) if text else {}
    except yaml.YAMLError:
        raw = {}
    raw = raw if isinstance(raw, dict) else {}
    environment = _section(raw, "environment")
    try:
        env = Environment.model_validate(
            {k: environment[k] for k in ENVIRONMENT_KEYS if k in environment}
        )
    except ValidationError:
        env = Environment()
    try:
        deploy = Deploy.model_validate(_section(raw, "deploy"))
    except ValidationError:
        deploy = Deploy()
    try:
        types = TypeAdapter(list[str]).validate_python(
            _section(raw, "evaluation").get("trusted_types") or []
        )
    except ValidationError:
        types = []
    try:
        gates = TypeAdapter(dict[str, Gate]).validate_python(_section(raw, "gates"))
    except ValidationError:
        gates = {}
    try:
        resources = Resources.model_validate(_section(raw, "training").get("resources") or {})
    except ValidationError:
        resources = Resources()
    return env, deploy, types, gates, resources


def _base_monitoring(text: str | None) -> tuple[Monitoring, Prepare | None]:
    """The base's monitoring section and data.prepare (None where absent or not valid)."""
    try:
        raw = yaml.safe_load(text) if text else {}
    except yaml.YAMLError:
        raw = {}
    raw = raw if isinstance(raw, dict) else {}
    return (
        _valid(Monitoring, raw.get("monitoring")) or Monitoring(),
        _valid(Prepare, _section(raw, "data").get("prepare")),
    )


def _is_url(value: object) -> bool:
    return isinstance(value, str) and "://" in value


def _data_locations(head: Config, base_text: str | None) -> dict[str, str]:
    """The data locations the PR's run uses: the PR's own, except a URL the base does not
    name, for which the base's value (InputError where the base has no value to use)."""
    try:
        raw = yaml.safe_load(base_text) if base_text else {}
    except yaml.YAMLError:
        raw = {}
    data = _section(raw if isinstance(raw, dict) else {}, "data")
    kept: dict[str, str] = {}
    for key in DATA_LOCATIONS:
        value, base = getattr(head.data, key), data.get(key)
        if not _is_url(value) or value == base:
            kept[key] = value
        elif isinstance(base, str) and base:
            kept[key] = base
        else:
            raise InputError(
                f"mlci.yaml: data.{key} is a URL ({value.split('://', 1)[0]}://...) that the "
                "pull request sets and its base branch does not: mlci reads URLs with the "
                "runner's credentials, so only the base branch may name one",
                hint=f"commit the data under the project, or set data.{key} on the base branch",
            )
    return kept


def apply(head: Config, base_text: str | None, base_label: str) -> tuple[Config, TrustReport]:
    """``head`` with the trusted settings of the base's mlci.yaml (``base_text``)."""
    env, deploy, types, gates, resources = _base_settings(base_text)
    monitoring, prepare = _base_monitoring(base_text)
    locations = _data_locations(head, base_text)
    base_values = {
        "deploy": deploy,
        **{f"environment.{k}": getattr(env, k) for k in ENVIRONMENT_KEYS},
        "evaluation.trusted_types": types,
        "training.resources": resources,
        "monitoring": monitoring,
        "data.prepare": prepare,
    }
    head_values = {
        "deploy": head.deploy,
        **{f"environment.{k}": getattr(head.environment, k) for k in ENVIRONMENT_KEYS},
        "evaluation.trusted_types": head.evaluation.trusted_types,
        "training.resources": head.training.resources,
        "monitoring": head.monitoring,
        "data.prepare": head.data.prepare,
    }
    ignored = _changes(
        {k: v for key, value in base_values.items() for k, v in _flat(value, key).items()},
        {k: v for key, value in head_values.items() for k, v in _flat(value, key).items()},
    ) + [
        SettingChange(
            key=f"data.{key}",
            base=json.dumps(locations[key]),
            head=json.dumps(getattr(head.data, key)),
        )
        for key in DATA_LOCATIONS
        if locations[key] != getattr(head.data, key)
    ]
    gate_changes = _changes(
        {k: v for name, gate in gates.items() for k, v in _flat(gate, f"gates.{name}").items()},
        {
            k: v
            for name, gate in head.gates.items()
            for k, v in _flat(gate, f"gates.{name}").items()
        },
    )
    trusted = head.model_copy(
        update={
            "deploy": deploy,
            "environment": head.environment.model_copy(
                update={k: getattr(env, k) for k in ENVIRONMENT_KEYS}
            ),
            "evaluation": head.evaluation.model_copy(update={"trusted_types": types}),
            "training": head.training.model_copy(update={"resources": resources}),
            "monitoring": monitoring,
            "data": head.data.model_copy(update={"prepare": prepare, **locations}),
        }
    )
    return trusted, TrustReport(base=base_label, ignored=ignored, gates=gate_changes)


def from_base(
    head: Config, project: Path, base_sha: str, base_ref: str
) -> tuple[Config, TrustReport]:
    """:func:`apply` with the mlci.yaml of commit ``base_sha`` (the PR's merge target)."""
    root = git.require_repo(project, "a pull request's trusted settings come from its base")
    if not git.has_commit(root, base_sha):
        raise InputError(
            f"the pull request's base commit {base_sha[:12]} ({base_ref}) is not in the checkout,"
            " so mlci cannot read the trusted settings of mlci.yaml from it",
            hint="check out with `fetch-depth: 0` (actions/checkout) so the base commit is there",
        )
    rel = project.resolve().relative_to(root.resolve()).as_posix()
    path = CONFIG_FILE if rel in ("", ".") else f"{rel}/{CONFIG_FILE}"
    label = f"{base_ref} @ {base_sha[:12]}" if base_ref else base_sha[:12]
    return apply(head, git.show(root, base_sha, path), label)


def require_sandbox(config: Config, event: str) -> Config:
    """On pull-request events the PR's code runs in a container (the trusted executor docker;
    auto means docker here), or on the Ray cluster the base branch names; never local or
    current (the runner itself)."""
    executor = config.environment.executor
    if executor in CLUSTER:
        return config
    if executor not in SANDBOXED:
        raise InputError(
            f"environment.executor is {executor!r} in the trusted mlci.yaml (the base "
            f"branch's), but on {event} events mlci runs the pull request's code only in a "
            "container",
            hint="set environment.executor to docker (or auto) on the base branch; the job "
            "needs a Docker engine",
        )
    return config.model_copy(
        update={"environment": config.environment.model_copy(update={"executor": "docker"})}
    )
