"""The ``docker`` executor: stages run inside the project's environment image.

One container per environment and run (``sleep infinity``, host networking); each command is a
``docker exec``. Files move only through the Docker API (``put_archive`` / ``get_archive``),
never bind mounts, so this also works when mlci itself runs in a container that talks to the
host's daemon through /var/run/docker.sock, as a GitHub Docker action does.

Paths are mirrored: a host path a command refers to (its working directory, data files, the
model to write, a worker's request and result) is the same path inside the container. Before a
command, every referenced path that exists on the host is copied in (once, unless it changed);
afterwards, every referenced path that did not exist before is copied back out.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors

from mlci_action import proc
from mlci_action.config import Config
from mlci_action.errors import StageFailure
from mlci_action.executors.base import check_environment_files, worker_once
from mlci_action.executors.host import HostPool
from mlci_action.images.docker_api import Docker, connect
from mlci_action.images.environment_image import (
    MLCI_SOURCE,
    ensure_environment_image,
    image_key,
)
from mlci_action.record import EnvironmentInfo

_LIST_PACKAGES = (
    "import json, importlib.metadata as m; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)
_IMAGE_SOURCE = "/opt/mlci/src"
"""Where environment images keep mlci's code (Dockerfile.env.j2)."""
_SKIP = {".git", ".mlci", "__pycache__", ".venv", ".pytest_cache"}


def _paths(value: Any) -> Iterator[Path]:
    """Absolute paths mentioned in a request, an argv or an environment."""
    if isinstance(value, str):
        if value.startswith("/") and "\n" not in value and len(value) < 4096:
            yield Path(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _paths(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _paths(item)


def _tar_of(path: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        if path.is_file():
            archive.add(path, arcname=path.name)
        else:
            for item in sorted(path.rglob("*")):
                rel = item.relative_to(path)
                if any(part in _SKIP for part in rel.parts) or not (
                    item.is_file() or item.is_dir()
                ):
                    continue
                archive.add(item, arcname=f"{path.name}/{rel.as_posix()}", recursive=False)
    return buffer.getvalue()


def _signature(path: Path) -> tuple[float, int]:
    stat = path.stat()
    if path.is_file():
        return stat.st_mtime, stat.st_size
    newest, count = stat.st_mtime, 0
    for item in path.rglob("*"):
        if not any(part in _SKIP for part in item.relative_to(path).parts):
            newest, count = max(newest, item.stat().st_mtime), count + 1
    return newest, count


def _extract(archive: tarfile.TarFile, dest: Path) -> None:
    """Extract only regular files and directories that stay inside ``dest``."""
    if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
        archive.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for member in archive.getmembers():
        target = (dest / member.name).resolve()
        if not target.is_relative_to(root) or not (member.isfile() or member.isdir()):
            raise StageFailure(f"refusing to extract {member.name!r} from the container")
        archive.extract(member, dest)


@dataclass(frozen=True)
class ContainerRuntime:
    info: EnvironmentInfo
    container: Any
    python: str = "python"
    _synced: dict[Path, tuple[float, int]] = field(default_factory=dict, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def with_hosts(self, hosts: HostPool) -> ContainerRuntime:
        return self  # one process per task inside the container

    def warm(self) -> None:
        """Nothing to warm: the container is already running."""

    def close(self) -> None:
        with suppress(docker.errors.DockerException):
            self.container.remove(force=True)

    def _copy_in(self, paths: list[Path]) -> None:
        with self._lock:
            for path in paths:
                if any(
                    path.is_relative_to(done) and path != done
                    for done in self._synced
                    if done.is_dir()
                ):
                    parent = next(d for d in self._synced if path.is_relative_to(d) and d.is_dir())
                    if self._synced[parent] == _signature(parent):
                        continue
                signature = _signature(path)
                if self._synced.get(path) == signature:
                    continue
                self.container.exec_run(["mkdir", "-p", str(path.parent)])
                if not self.container.put_archive(str(path.parent), _tar_of(path)):
                    raise StageFailure(f"could not copy {path} into the container")
                self._synced[path] = signature

    def _copy_out(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                stream, _ = self.container.get_archive(str(path))
            except docker.errors.NotFound:
                continue
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                path.parent.mkdir(parents=True, exist_ok=True)
                _extract(archive, path.parent)

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        log: Path | None = None,
    ) -> proc.ProcResult:
        env = dict(env or {})
        referenced = {cwd, *_paths(list(argv)), *_paths(env)}
        existing = sorted((p for p in referenced if p.exists()), key=lambda p: len(p.parts))
        outputs = [p for p in referenced if not p.exists() and p.parent.exists()]
        self._copy_in(existing)
        for path in outputs:
            self.container.exec_run(["mkdir", "-p", str(path.parent)])
        command = ["timeout", "--kill-after=5", str(int(timeout))] if timeout else []
        started = time.perf_counter()
        code, output = self.container.exec_run(
            [*command, *argv], workdir=str(cwd), environment={"PYTHONHASHSEED": "0", **env}
        )
        text = (output or b"").decode("utf-8", "replace")
        self._copy_out(outputs)
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(text, encoding="utf-8")
        timed_out = bool(timeout) and code == 124
        return proc.ProcResult(
            tuple(argv), int(code), text, time.perf_counter() - started, timed_out
        )

    def worker(
        self,
        task: str,
        request: Mapping[str, Any],
        *,
        cwd: Path,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        # paths inside the request (data in, predictions out) are mirrored like argv's
        referenced = set(_paths(dict(request)))
        self._copy_in(sorted((p for p in referenced if p.exists()), key=lambda p: len(p.parts)))
        outputs = [p for p in referenced if not p.exists() and p.parent.exists()]
        for path in outputs:
            self.container.exec_run(["mkdir", "-p", str(path.parent)])
        try:
            return worker_once(self, task, request, cwd=cwd, log=log, env=env, timeout=timeout)
        finally:
            self._copy_out(outputs)


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
        lines: list[str] = []
        try:
            tag, reused = ensure_environment_image(self.docker, project, config, lines.append)
        finally:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("\n".join(lines), encoding="utf-8")
        return self._start(tag, image_key(project, config), reused)

    def prepare_image(self, image: str, log: Path) -> ContainerRuntime:
        """The image's own Python and packages, with this mlci's code over the image's copy,
        so the worker protocol is this version's."""
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"scoring in {image}, with mlci's current worker code\n", encoding="utf-8")
        runtime = self._start(image, f"image:{image}", reused=True)
        code = MLCI_SOURCE / "mlci_action"
        runtime.container.exec_run(["rm", "-rf", f"{_IMAGE_SOURCE}/mlci_action"])
        if not runtime.container.put_archive(_IMAGE_SOURCE, _tar_of(code)):
            runtime.close()
            raise StageFailure(f"could not copy mlci's code into a container of {image}")
        return runtime

    def _start(self, tag: str, key: str, reused: bool) -> ContainerRuntime:
        container = self.docker.client.containers.run(
            tag,
            entrypoint=["sleep"],  # over a serving image's server
            command=["infinity"],
            detach=True,
            network_mode="host",
            labels={"org.mlci.run": "1"},
        )
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
        return ContainerRuntime(info=info, container=container)
