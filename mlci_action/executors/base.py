"""The executor interface: the edge between mlci's stages and the place code runs."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from mlci_action import proc
from mlci_action.config import Config, Environment
from mlci_action.errors import InputError, StageFailure
from mlci_action.executors.environ import scrubbed
from mlci_action.executors.host import HostPool
from mlci_action.executors.tasks import Command, TaskRequest
from mlci_action.hashing import value_digest
from mlci_action.record import ClusterTask, EnvironmentInfo

MLCI_SOURCE = Path(__file__).resolve().parents[2]
"""The directory holding the mlci_action package, put on the environment's path."""

RUNTIME_REQUIREMENTS = (
    "pandas>=2.1",
    "pandera>=0.20",
    "scikit-learn>=1.3",
    "skops>=0.10",
    "scipy>=1.11",
    "pytest>=8",
    "pydantic>=2.7,<3",
    "pyyaml>=6",
)


def environment_key(project: Path, env: Environment, python: str, executor: str) -> str:
    """Content hash of everything that decides what the environment holds."""
    files = [*env.requirements, *([env.lock] if env.lock else [])]
    contents = {}
    for name in files:
        path = project / name
        contents[name] = path.read_text(encoding="utf-8") if path.is_file() else None
    return value_digest(
        {"files": contents, "python": python, "runtime": RUNTIME_REQUIREMENTS, "executor": executor}
    )


def check_environment_files(project: Path, env: Environment) -> None:
    for name in [*env.requirements, *([env.lock] if env.lock else [])]:
        if not (project / name).is_file():
            raise InputError(
                f"{project / name}: requirements file named in mlci.yaml (environment) not found",
                hint="create it, or list the right files under environment.requirements",
            )


Lane = Literal["scoring", "project"]
"""Which worker host a task runs in: ``scoring`` (mlci's evaluation: no project code) or
``project`` (tasks that import the project's code: schema modules, model tests, an estimator
of its own). Project code never shares a process with the scoring, so it cannot patch it."""


class Runtime(Protocol):
    """A prepared environment: run the project's command and worker tasks in it."""

    @property
    def info(self) -> EnvironmentInfo: ...

    @property
    def python(self) -> str: ...

    def where(self, path: Path) -> str:
        """Where a host path is seen by code running in this environment."""
        ...

    def run(self, command: Command) -> proc.ProcResult: ...

    def call(
        self,
        request: TaskRequest,
        *,
        cwd: Path,
        lane: Lane = "scoring",
        log: Path | None = None,
        timeout: float | None = None,
    ) -> Any: ...

    def with_hosts(self, hosts: HostPool) -> Runtime: ...

    def warm(self) -> None: ...

    def close(self) -> None: ...

    def tasks(self) -> tuple[ClusterTask, ...]:
        """The tasks that ran on a cluster, and where (empty when nothing ran on one)."""
        ...


@dataclass(frozen=True)
class ProcessRuntime:
    """An environment on this machine (a venv, or this interpreter): tasks run as processes,
    with the scrubbed environment of :mod:`mlci_action.executors.environ`."""

    info: EnvironmentInfo
    python: str
    bin_dir: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    pass_env: tuple[str, ...] = ()
    hosts: HostPool | None = field(default=None, compare=False)
    """Worker hosts of the current run; without them each task is its own process."""

    def environ(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        merged = {**scrubbed(os.environ, self.pass_env), **self.extra_env, **(env or {})}
        if self.bin_dir is not None:  # `python` in a command is this environment's
            merged["PATH"] = f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
            if (self.bin_dir.parent / "pyvenv.cfg").is_file():
                merged["VIRTUAL_ENV"] = str(self.bin_dir.parent)
        merged.setdefault("PYTHONHASHSEED", "0")
        return merged

    def where(self, path: Path) -> str:
        return str(path)

    def run(self, command: Command) -> proc.ProcResult:
        return proc.run(
            command.argv,
            cwd=command.cwd,
            env=self.environ(command.env),
            timeout=command.timeout,
            log=command.log,
            inherit=False,
        )

    def with_hosts(self, hosts: HostPool) -> ProcessRuntime:
        return replace(self, hosts=hosts)

    def tasks(self) -> tuple[ClusterTask, ...]:
        return ()

    def close(self) -> None:
        """Nothing to release: the run's worker hosts are closed by the run."""

    def warm(self) -> None:
        """Start this environment's worker hosts now, so their imports overlap other work."""
        if self.hosts is not None:
            for lane in ("scoring", "project"):
                self.hosts.get(self.python, self.environ(), lane)

    def call(
        self,
        request: TaskRequest,
        *,
        cwd: Path,
        lane: Lane = "scoring",
        log: Path | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Run a worker task (in the run's worker host of ``lane`` when there is one).

        The task's InputError becomes ours (exit 2); any other failure is a StageFailure.
        """
        payload = request.translated(self.where)
        if self.hosts is not None:
            host = self.hosts.get(self.python, self.environ(), lane)
            result = host.call(request.kind, payload, cwd=cwd, env={}, log=log, timeout=timeout)
            return unwrap(result, "", log)
        with tempfile.TemporaryDirectory(prefix="mlci-worker-") as tmp:
            req, res = Path(tmp) / "request.json", Path(tmp) / "result.json"
            req.write_text(json.dumps(payload), encoding="utf-8")
            argv = (self.python, "-m", "mlci_action.worker", request.kind, str(req), str(res))
            done = self.run(Command(argv=argv, cwd=cwd, timeout=timeout, log=log))
            return unwrap(read_result(res, request.kind, done), done.tail(), log)


def read_result(path: Path, task: str, done: proc.ProcResult) -> dict[str, Any]:
    """The worker's result file, or a StageFailure saying it left none."""
    if not path.is_file():
        raise StageFailure(
            f"the {task} worker exited with code {done.returncode} and no result",
            log_tail=done.tail(),
        )
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


def unwrap(payload: Mapping[str, Any], tail: str, log: Path | None) -> Any:
    """A worker's payload as its result; its InputError is ours (exit 2), else a StageFailure."""
    if payload["ok"]:
        return payload["result"]
    if payload["kind"] == "input":
        raise InputError(payload["message"], hint=payload.get("hint"))
    tail = payload.get("traceback") or tail or _tail_of(log)
    raise StageFailure(payload["message"], hint=payload.get("hint"), log_tail=tail)


def _tail_of(log: Path | None) -> str:
    if log is None or not log.is_file():
        return ""
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()[-40:])


class Executor(Protocol):
    name: str

    def __init__(self, cache_dir: Path) -> None: ...

    def key(self, project: Path, config: Config) -> str: ...

    def prepare(self, project: Path, config: Config, log: Path) -> Runtime: ...

    def prepare_image(self, image: str, log: Path, config: Config) -> Runtime | None:
        """A runtime inside an existing image (the champion's serving image), with this
        mlci's worker code; None where the executor runs no images (then the project's own
        environment is used)."""
        ...
