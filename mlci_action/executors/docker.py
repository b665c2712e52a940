"""The ``docker`` executor: the project's code runs inside its environment image, sandboxed.

One container per environment and run (``sleep infinity``). The project's command is a ``docker
exec``; worker tasks go to one long-lived worker per lane in the container
(:mod:`.container_host`), so pandas and scikit-learn are imported once per run, as locally. The container is a sandbox (:meth:`Docker.sandbox`): no capabilities, a
read-only root filesystem, no host mounts, no Docker socket, limits, and no network unless the
trusted configuration's ``environment.network`` allows it.

Files move only through the Docker API (``put_archive`` / ``get_archive``), never bind mounts,
so this also works when mlci itself runs in a container that talks to the host's daemon, as a
GitHub Docker action does. Exactly the files a task declares move (:mod:`.tasks`): its inputs
are copied in (once, unless they changed; streamed from disk; a large file once per content, see
:mod:`.transfer`) and its outputs, regular files only, copied back.
A host path ``/a/b`` is ``/mlci/fs/a/b`` inside the container.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import docker.errors

from mlci_action import proc
from mlci_action.config import Config
from mlci_action.errors import StageFailure
from mlci_action.executors.base import Lane, check_environment_files, unwrap
from mlci_action.executors.container_host import ContainerHost
from mlci_action.executors.environ import scrubbed
from mlci_action.executors.environment_image import (
    MLCI_SOURCE,
    ensure_environment_image,
    image_key,
)
from mlci_action.executors.host import HostPool
from mlci_action.executors.tasks import Command, Role, TaskRequest
from mlci_action.executors.transfer import Transfer, walk
from mlci_action.globs import glob_folder
from mlci_action.images.activity import Activity
from mlci_action.images.docker_api import SANDBOX_ROOT, Docker, connect
from mlci_action.record import ClusterTask, EnvironmentInfo

_LIST_PACKAGES = (
    "import json, importlib.metadata as m; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)
FS = f"{SANDBOX_ROOT}/fs"
"""Host paths, mirrored under this folder of the container's volume."""


def _signature(path: Path) -> tuple[float, int]:
    stat = path.stat()
    if not path.is_dir():
        return stat.st_mtime, stat.st_size
    newest, count = stat.st_mtime, 0
    for item in walk(path):
        newest, count = max(newest, item.lstat().st_mtime), count + 1
    return newest, count


@dataclass(frozen=True)
class ContainerRuntime:
    info: EnvironmentInfo
    container: Any
    transfer: Transfer
    python: str = "python"
    pass_env: Mapping[str, str] = field(default_factory=dict)
    """The variables environment.pass_env passes, read from mlci's environment at start."""
    log_dir: Path | None = None
    """Where the worker hosts' own logs go (the run's logs folder, given by ``with_hosts``)."""
    _synced: dict[Path, tuple[float, int]] = field(default_factory=dict, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False)
    _hosts: dict[str, ContainerHost] = field(default_factory=dict, compare=False)
    _hosts_lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def with_hosts(self, hosts: HostPool) -> ContainerRuntime:
        """This runtime, its worker hosts logging next to the run's (they live in the container,
        not in ``hosts``; the same container, files and hosts are shared)."""
        return replace(self, log_dir=hosts.logs)

    def _host(self, lane: Lane) -> ContainerHost:
        with self._hosts_lock:
            host = self._hosts.get(lane)
            if host is None or not host.alive:
                log = self.log_dir / f"worker-{lane}-container.log" if self.log_dir else None
                host = ContainerHost(
                    self.container, self.python, self._environment({}), SANDBOX_ROOT, log
                )
                self._hosts[lane] = host
            return host

    def tasks(self) -> tuple[ClusterTask, ...]:
        return ()

    def warm(self) -> None:
        """Start both lanes' workers now, so their imports overlap other work."""
        for lane in ("scoring", "project"):
            self._host(lane)

    def close(self) -> None:
        with self._hosts_lock:
            for host in self._hosts.values():
                host.close()
            self._hosts.clear()
        with suppress(docker.errors.DockerException):
            self.container.remove(force=True, v=True)

    def where(self, path: Path) -> str:
        return f"{FS}{Path(path).resolve().as_posix()}"

    # -------------------------------------------------------------------- files

    def _exec(self, argv: list[str]) -> None:
        code, output = self.container.exec_run(argv)
        if code != 0:
            raise StageFailure(
                f"`{' '.join(argv)}` failed in the container (exit {code})",
                log_tail=(output or b"").decode("utf-8", "replace"),
            )

    def copy_in(self, paths: list[Path]) -> None:
        """Each path (file or directory) at :meth:`where`, unless already there unchanged: one
        archive for all of them, streamed (:class:`Transfer`)."""
        with self._lock:
            stale: list[str] = []
            items: list[tuple[Path, str]] = []
            signatures: dict[Path, tuple[float, int]] = {}
            folders = {glob_folder(Path(p).absolute()) for p in paths}  # a glob: its folder
            for path in sorted(folders, key=lambda p: len(p.parts)):
                inside_synced = next(
                    (
                        d
                        for d in self._synced
                        if d.is_dir() and path.is_relative_to(d) and path != d
                    ),
                    None,
                )
                if inside_synced is not None and self._synced[inside_synced] == _signature(
                    inside_synced
                ):
                    continue
                signature = _signature(path)
                if self._synced.get(path) == signature:
                    continue
                target = self.where(path)
                if path in self._synced:
                    stale.append(target)  # files deleted here go there too
                items.append((path, target.removeprefix(f"{SANDBOX_ROOT}/")))
                signatures[path] = signature
            if stale:
                self._exec(["rm", "-rf", *stale])
            if items:
                self.transfer.put(items)
                self._synced.update(signatures)

    def _prepare_outputs(self, paths: list[Path]) -> None:
        if paths:
            self._exec(["mkdir", "-p", *{str(PurePosixPath(self.where(p)).parent) for p in paths}])

    def copy_out(self, paths: list[Path]) -> None:
        """Each declared output that the task wrote, as a regular file, written atomically."""
        for path in paths:
            self.transfer.get(self.where(path), path)

    # -------------------------------------------------------------------- running

    def _environment(self, env: Mapping[str, str]) -> dict[str, str]:
        return {"PYTHONHASHSEED": "0", "HOME": "/tmp", **self.pass_env, **env}

    def _run(
        self,
        argv: list[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        timeout: float | None,
        log: Path | None,
    ) -> proc.ProcResult:
        command = ["timeout", "--kill-after=5", str(int(timeout))] if timeout else []
        started = time.perf_counter()
        code, output = self.container.exec_run(
            [*command, *argv], workdir=cwd, environment=self._environment(env)
        )
        text = (output or b"").decode("utf-8", "replace")
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(text, encoding="utf-8")
        timed_out = bool(timeout) and code == 124
        return proc.ProcResult(
            tuple(argv), int(code), text, time.perf_counter() - started, timed_out
        )

    def run(self, command: Command) -> proc.ProcResult:
        self.copy_in([command.cwd, *command.inputs])
        self._prepare_outputs(list(command.outputs))
        try:
            return self._run(
                list(command.argv),
                cwd=self.where(command.cwd),
                env=command.env,
                timeout=command.timeout,
                log=command.log,
            )
        finally:
            self.copy_out(list(command.outputs))

    def call(
        self,
        request: TaskRequest,
        *,
        cwd: Path,
        lane: Lane = "scoring",
        log: Path | None = None,
        timeout: float | None = None,
    ) -> Any:
        """A worker task in this lane's long-lived worker in the container: declared files in,
        the request over the worker's stdin, its result, log and outputs out."""
        files = list(request.files())
        inputs = [Path(value) for _, role, value in files if role is Role.INPUT]
        outputs = [Path(value) for _, role, value in files if role is Role.OUTPUT]
        self.copy_in([cwd, *inputs])
        task_dir = f"{SANDBOX_ROOT}/tasks/{uuid.uuid4().hex}"
        task_log, result = f"{task_dir}/log.txt", f"{task_dir}/result.json"
        message = {
            "task": request.kind,
            "request": request.translated(self.where),
            "result": result,
            "log": task_log,
            "cwd": self.where(cwd),
            "env": {},
        }
        try:
            self._host(lane).call(
                request.kind, message, timeout=timeout, tail=lambda: self.transfer.read(task_log)
            )
        finally:
            if log is not None:
                self.transfer.get(task_log, log)
            self.copy_out(outputs)
        raw = self.transfer.read(result)
        tail = (self.transfer.read(task_log) or b"").decode("utf-8", "replace")
        if raw is None:
            raise StageFailure(f"the {request.kind} worker left no result", log_tail=tail)
        return unwrap(json.loads(raw), tail, log)


class DockerExecutor:
    name = "docker"

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._docker: Docker | None = None

    @property
    def docker(self) -> Docker:
        if self._docker is None:
            self._docker = Docker(connect())
        return self._docker

    def key(self, project: Path, config: Config) -> str:
        return image_key(project, config)

    def prepare(self, project: Path, config: Config, log: Path) -> ContainerRuntime:
        check_environment_files(project, config.environment)
        with Activity(log) as sink:
            tag, reused = ensure_environment_image(self.docker, project, config, sink)
        return self._start(tag, image_key(project, config), reused, config)

    def prepare_image(self, image: str, log: Path, config: Config) -> ContainerRuntime:
        """The image's own Python and packages, with this mlci's code over the image's copy,
        so the worker protocol is this version's. (The image's root filesystem is read-only
        in the sandbox: mlci's code goes to the volume, first on the path.)"""
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"scoring in {image}, with mlci's current worker code\n", encoding="utf-8")
        runtime = self._start(image, f"image:{image}", True, config)
        code = f"{SANDBOX_ROOT}/mlci-src"
        try:
            runtime.transfer.put([(MLCI_SOURCE / "mlci_action", "mlci-src/mlci_action")])
        except StageFailure:
            runtime.close()
            raise StageFailure(f"could not copy mlci's code into a container of {image}") from None
        return replace(runtime, pass_env={**runtime.pass_env, "PYTHONPATH": code})

    def _start(self, tag: str, key: str, reused: bool, config: Config) -> ContainerRuntime:
        env = config.environment
        container = self.docker.sandbox(tag, network=env.network, memory=env.memory, pids=env.pids)
        code, version = container.exec_run(
            ["python", "-c", "import platform; print(platform.python_version())"]
        )
        _, listing = container.exec_run(["python", "-c", _LIST_PACKAGES])
        try:
            packages = {str(k): str(v) for k, v in json.loads(listing or b"{}").items()}
        except ValueError:
            packages = {}
        info = EnvironmentInfo(
            key=key,
            python=version.decode().strip() if code == 0 else "?",
            executor=self.name,
            reused=reused,
            packages=packages,
        )
        # inside the container: the image's PATH and HOME, mlci's tuning, what pass_env names
        passed = {
            name: value
            for name, value in scrubbed(os.environ, env.pass_env).items()
            if name not in ("PATH", "HOME") or name in env.pass_env
        }
        return ContainerRuntime(
            info=info,
            container=container,
            transfer=Transfer(container, SANDBOX_ROOT),
            pass_env=passed,
        )
