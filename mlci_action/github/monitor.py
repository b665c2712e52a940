"""The action's monitor mode: the nightly ``schedule`` (or workflow_dispatch action ``monitor``)
runs `mlci monitor` on the trusted log location, then keeps one GitHub issue per model and
starts a retraining when a threshold is breached.

- breached: open or update the sticky issue ("mlci · NAME: drift detected") with the report,
  and dispatch ``monitoring.retrain_workflow`` (action retrain) on the default branch;
- no traffic: open or update the issue saying so; no retraining;
- healthy: close the open issue with a comment.

The log location and the workflow come from the checkout's mlci.yaml, which is the default
branch's: the monitor runs on no other branch, and never for a pull request. An API call that
fails (a missing permission) is an error annotation that names the permission; the report is
still written to the job summary and the outputs, and the exit code is the monitor's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pydantic import ValidationError

from mlci_action.config import Config
from mlci_action.errors import ConfigError, InputError
from mlci_action.github.commands import Workflow
from mlci_action.github.context import Event
from mlci_action.github.dispatch import start_retrain
from mlci_action.github.own_env import MONITOR, OwnEnvironment, own_environment
from mlci_action.monitoring.record import MonitorRecord
from mlci_action.report.monitor_issue import (
    issue_marker,
    issue_title,
    render_closing,
    render_issue,
)

if TYPE_CHECKING:
    from mlci_action.github.api import GitHubAPI
    from mlci_action.images.registry import Credentials

Runner = Callable[[list[str]], int]
"""`mlci monitor`'s entry: argv -> exit code (0 healthy, 1 breached or no traffic, 2 unusable)."""
ISSUE_LABELS = ("mlci-monitor",)
OUT_DIR = Path(".mlci") / "monitor"


def monitor_command(argv: list[str]) -> int:
    """`mlci monitor ARGV`, through the CLI's entry (its errors printed, exit 2)."""
    from mlci_action.cli import main

    return main(["monitor", *argv])


@dataclass(frozen=True)
class MonitorChild:
    """`mlci monitor ARGV` in a child process of the monitor's own environment."""

    environment: OwnEnvironment

    def __call__(self, argv: list[str]) -> int:
        return self.environment.run(["-m", "mlci_action", "monitor", *argv])


def runner(environ: Mapping[str, str], out: TextIO) -> Runner:
    """In-process when the monitor's modules import here; else in its own environment
    (:data:`mlci_action.github.own_env.MONITOR`: ``MLCI_MONITOR_ENV``)."""
    own = own_environment(MONITOR, environ, out)
    return monitor_command if own is None else MonitorChild(own)


def read_record(path: Path) -> MonitorRecord:
    """The monitor's run.json, checked; a missing or wrong one names the file and field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path}: `mlci monitor` wrote no run.json", hint="see the monitor's output above"
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable as JSON ({exc})") from None
    try:
        return MonitorRecord.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(
            f"{path}: not a monitor record: {field}: {first['msg']}",
            hint="the action and `mlci monitor` must come from the same mlci version",
        ) from None


def trusted_monitoring(config: Config, event: Event) -> tuple[str, str | None]:
    """The log location and the retraining workflow, from the default branch's mlci.yaml:
    the checkout is that branch on ``schedule``; a dispatch must name it."""
    if event.name not in ("schedule", "workflow_dispatch"):
        raise InputError(
            f"the monitor runs on schedule and workflow_dispatch events, not {event.name}",
            hint="a pull request never decides where the inference log is",
        )
    if event.name == "workflow_dispatch" and (
        event.branch is None or event.branch != event.default_branch
    ):
        raise InputError(
            f"the monitor runs on the default branch only ({event.default_branch or 'unknown'}),"
            f" not on {event.ref or 'an unknown ref'}: its log location and retraining "
            "workflow are the default branch's settings",
            hint="dispatch the workflow (action monitor) on the default branch",
        )
    if not config.monitoring.log:
        raise ConfigError(
            "mlci.yaml: monitoring.log is not set, so there is no inference log to monitor",
            hint="set monitoring.log to the serving image's MLCI_LOG_PATH (a directory or an "
            "fsspec URL) on the default branch",
        )
    return config.monitoring.log, config.monitoring.retrain_workflow


def reference_for(
    workflow: Workflow, config: Config, project: Path, credentials: Credentials | None
) -> str | None:
    """The reference profile's source for `mlci monitor --reference`: monitoring.reference
    (a file of the repository, or an image), else the model in production (deploy.registry,
    deploy.champion_tag). An image is pulled first. None: neither is configured."""
    configured = config.monitoring.reference
    if configured and "://" not in configured and (project / configured).is_file():
        return str((project / configured).resolve())
    image = configured
    repository = config.deploy.repository(config.name)
    if image is None and repository is not None:
        image = f"{repository}:{config.deploy.champion_tag}"
    if image is None:
        return None
    from mlci_action.images.activity import Activity
    from mlci_action.images.docker_api import Docker, connect
    from mlci_action.images.registry import Registry

    print(f"pulling {image} for its reference profile", file=workflow.out)
    with Activity(None) as sink:
        Registry(Docker(connect()), credentials).pull(image, sink)
    return image


def _location(project: Path, log: str) -> str:
    """A relative local path is the project's; a URL (``scheme://``) is passed as it is."""
    return log if "://" in log else str((project / log).resolve())


def run_monitor(
    workflow: Workflow,
    api: GitHubAPI | None,
    event: Event,
    config: Config,
    project: Path,
    workspace: Path,
    environ: Mapping[str, str],
    runner: Runner = monitor_command,
    reference: str | None = None,
) -> int:
    """``reference``: the serving image (pulled) or file whose reference profile the log is
    compared with; None: the monitor's default."""
    log, retrain_workflow = trusted_monitoring(config, event)
    out = project / OUT_DIR
    argv = [
        "--config",
        str(project),
        "--log",
        _location(project, log),
        "--since",
        config.monitoring.window,
        "--out",
        str(out),
        *(["--reference", reference] if reference else []),
    ]
    with workflow.group("mlci monitor"), workflow.fenced():  # log-derived output: no commands
        code = runner(argv)
    if code not in (0, 1):
        workflow.error(f"mlci monitor could not run (exit {code}); see its output above")
        return 2
    record = read_record(out / "run.json")
    report_path = out / "report.md"
    report = report_path.read_text(encoding="utf-8") if report_path.is_file() else ""
    workflow.summary(report or f"## mlci · {config.name}: monitor {record.verdict}\n")
    workflow.set_output("verdict", record.verdict)
    workflow.set_output("report", os.path.relpath(report_path, workspace))
    run_url = None
    if environ.get("GITHUB_RUN_ID"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        run_url = f"{server}/{event.repository}/actions/runs/{environ['GITHUB_RUN_ID']}"
    if api is None:
        workflow.warning(
            "no github-token: no issue and no retraining (the report is in the summary)"
        )
    else:
        _act(workflow, api, event, record, report, retrain_workflow, run_url)
    print(f"monitor verdict: {record.verdict}", file=workflow.out)
    return 0 if record.verdict == "healthy" else 1


def _act(
    workflow: Workflow,
    api: GitHubAPI,
    event: Event,
    record: MonitorRecord,
    report: str,
    retrain_workflow: str | None,
    run_url: str | None,
) -> None:
    from mlci_action.github.api import GitHubError

    marker = issue_marker(record.name)
    if record.verdict == "healthy":
        try:
            number = api.find_issue(marker)
            if number is not None:
                api.close_issue(number, render_closing(record, run_url))
                print(f"closed issue #{number}: the model is healthy again", file=workflow.out)
        except GitHubError as exc:
            workflow.error(f"could not close the monitor's issue: {exc.message}")
        return
    retrain = "none: the monitor saw too little traffic for a verdict"
    if record.verdict == "breached":
        retrain = "not configured: set monitoring.retrain_workflow in mlci.yaml"
        if retrain_workflow:
            ref = event.default_branch or event.branch or "main"
            try:
                retrain = start_retrain(api, retrain_workflow, ref, record)
                print(retrain, file=workflow.out)
                workflow.set_output("retrain", retrain_workflow)
            except GitHubError as exc:
                workflow.error(f"could not start the retraining: {exc.message}")
                retrain = f"could not be started: {exc.message}"
    body = render_issue(record, report, retrain=retrain, run_url=run_url)
    try:
        made = api.upsert_issue(marker, issue_title(record), body, ISSUE_LABELS)
        print(f"{'opened' if made.created else 'updated'} issue {made.url}", file=workflow.out)
        workflow.set_output("issue", made.url)
    except GitHubError as exc:
        workflow.error(f"could not open or update the monitor's issue: {exc.message}")
