"""The ``docker`` executor: the project's code runs inside its environment image, sandboxed.

One container per environment and run (``sleep infinity``); each command and worker task is a
``docker exec``. The container is a sandbox (:meth:`Docker.sandbox`): no capabilities, a
read-only root filesystem, no host mounts, no Docker socket, limits, and no network unless the
trusted configuration's ``environment.network`` allows it.

Files move only through the Docker API (``put_archive`` / ``get_archive``), never bind mounts,
so this also works when mlci itself runs in a container that talks to the host's daemon, as a
GitHub Docker action does. Exactly the files a task declares move (:mod:`.tasks`): its inputs
are copied in (once, unless they changed) and its outputs, regular files only, copied back.
A host path ``/a/b`` is ``/mlci/fs/a/b`` inside the container.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
import time
import uuid
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import docker.errors

from mlci_action import proc
from mlci_action.config import Config
from mlci_action.errors import StageFailure
from mlci_action.executors.base import Lane, check_environment_files, unwrap
from mlci_action.executors.environ import scrubbed
from mlci_action.executors.environment_image import (
    MLCI_SOURCE,
    ensure_environment_image,
    image_key,
)
from mlci_action.executors.host import HostPool
from mlci_action.executors.tasks import Command, TaskRequest
from mlci_action.images.activity import Activity
from mlci_action.images.docker_api import SANDBOX_ROOT, Docker, connect
from mlci_action.record import EnvironmentInfo

_LIST_PACKAGES = (
    "import json, importlib.metadata as m; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)
_IMAGE_SOURCE = "/opt/mlci/src"
"""Where environment images keep mlci's code (Dockerfile.env.j2)."""
_SKIP = {".git", ".mlci", "__pycache__", ".venv", ".pytest_cache"}
FS = f"{SANDBOX_ROOT}/fs"
"""Host paths, mirrored under this folder of the container's volume."""
MAX_OUTPUT_BYTES = 8 * 2**30
"""The largest file a task may hand back (a model, predictions)."""


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """The container's user (root, without capabilities) owns what goes in, whoever owns it
    here (on a runner: the runner's user), so the project's code can write where it runs."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _tar_of(path: Path, arcname: str) -> bytes:
    """``path`` (a file, or a directory without VCS and cache folders) as a tar archive.
    Symbolic links go in as links, never as the files they point at."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(path, arcname=arcname, recursive=False, filter=_owned_by_root)
        if path.is_dir() and not path.is_symlink():
            for item in sorted(path.rglob("*")):
                rel = item.relative_to(path)
                if any(part in _SKIP for part in rel.parts):
                    continue
                if item.is_symlink() or item.is_file() or item.is_dir():
                    archive.add(
                        item,
                        arcname=f"{arcname}/{rel.as_posix()}",
                        recursive=False,
                        filter=_owned_by_root,
                    )
    return buffer.getvalue()


def _signature(path: Path) -> tuple[float, int]:
    stat = path.stat()
    if not path.is_dir():
        return stat.st_mtime, stat.st_size
    newest, count = stat.st_mtime, 0
    for item in path.rglob("*"):
        if not any(part in _SKIP for part in item.relative_to(path).parts):
            newest, count = max(newest, item.lstat().st_mtime), count + 1
    return newest, count


def _one_file(stream: Any, name: str) -> bytes:
    """The single regular file ``name`` of a ``get_archive`` stream: anything else (a link, a
    device, a directory, extra members, more than MAX_OUTPUT_BYTES) is refused."""
    data = bytearray()
    for chunk in stream:
        data.extend(chunk)
        if len(data) > MAX_OUTPUT_BYTES + 2**20:
            raise StageFailure(f"{name}: the task's output is larger than {MAX_OUTPUT_BYTES} bytes")
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as archive:
        members = archive.getmembers()
        if len(members) != 1 or not members[0].isfile() or members[0].name != name:
            kinds = ", ".join(
                f"{m.name} ({'file' if m.isfile() else 'not a file'})" for m in members
            )
            raise StageFailure(f"{name}: the task's output is not one regular file: {kinds}")
        handle = archive.extractfile(members[0])
        assert handle is not None
        return handle.read()


@dataclass(frozen=True)
class ContainerRuntime:
    info: EnvironmentInfo
    container: Any
    python: str = "python"
    pass_env: Mapping[str, str] = field(default_factory=dict)
    """The variables environment.pass_env passes, read from mlci's environment at start."""
    _synced: dict[Path, tuple[float, int]] = field(default_factory=dict, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def with_hosts(self, hosts: HostPool) -> ContainerRuntime:
        return self  # one process per task inside the container

    def warm(self) -> None:
        """Nothing to warm: the container is already running."""

    def close(self) -> None:
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
        """Each path (file or directory) at :meth:`where`, unless already there unchanged."""
        with self._lock:
            for path in sorted({Path(p).absolute() for p in paths}, key=lambda p: len(p.parts)):
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
                target = PurePosixPath(self.where(path))
                self._exec(["rm", "-rf", str(target)])
                self._exec(["mkdir", "-p", str(target.parent)])
                if not self.container.put_archive(str(target.parent), _tar_of(path, target.name)):
                    raise StageFailure(f"could not copy {path} into the container")
                self._synced[path] = signature

    def _prepare_outputs(self, paths: list[Path]) -> None:
        for path in paths:
            self._exec(["mkdir", "-p", str(PurePosixPath(self.where(path)).parent)])

    def copy_out(self, paths: list[Path]) -> None:
        """Each declared output that the task wrote, as a regular file, written atomically."""
        for path in paths:
            try:
                stream, _ = self.container.get_archive(self.where(path))
            except docker.errors.NotFound:
                continue
            data = _one_file(stream, path.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
            partial.write_bytes(data)
            partial.replace(path)

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
        """A worker task as its own process in the container (every task is isolated here,
        whatever its lane): request in, declared files in, result and outputs out."""
        files = list(request.files())
        inputs = [Path(value) for _, role, value in files if role.value == "in"]
        outputs = [Path(value) for _, role, value in files if role.value == "out"]
        self.copy_in([cwd, *inputs])
        self._prepare_outputs(outputs)
        task_dir = f"{SANDBOX_ROOT}/tasks/{uuid.uuid4().hex}"
        self._exec(["mkdir", "-p", task_dir])
        payload = json.dumps(request.translated(self.where)).encode()
        info = tarfile.TarInfo("request.json")
        info.size = len(payload)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            archive.addfile(info, io.BytesIO(payload))
        self.container.put_archive(task_dir, buffer.getvalue())
        argv = [
            self.python,
            "-m",
            "mlci_action.worker",
            request.kind,
            f"{task_dir}/request.json",
            f"{task_dir}/result.json",
        ]
        try:
            done = self._run(argv, cwd=self.where(cwd), env={}, timeout=timeout, log=log)
        finally:
            self.copy_out(outputs)
        try:
            stream, _ = self.container.get_archive(f"{task_dir}/result.json")
            result = json.loads(_one_file(stream, "result.json"))
        except (docker.errors.NotFound, ValueError):
            raise StageFailure(
                f"the {request.kind} worker exited with code {done.returncode} and no result",
                log_tail=done.tail(),
            ) from None
        return unwrap(result, done.tail(), log)


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
        runtime._exec(["mkdir", "-p", code])
        if not runtime.container.put_archive(
            code, _tar_of(MLCI_SOURCE / "mlci_action", "mlci_action")
        ):
            runtime.close()
            raise StageFailure(f"could not copy mlci's code into a container of {image}")
        return ContainerRuntime(
            info=runtime.info,
            container=runtime.container,
            python=runtime.python,
            pass_env={**runtime.pass_env, "PYTHONPATH": code},
        )

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
        return ContainerRuntime(info=info, container=container, pass_env=passed)
