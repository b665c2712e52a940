"""The one boundary to the Docker engine: connect, build, and translate its errors.

Everything else in mlci talks to Docker through :class:`Docker`, which tests construct
against the real engine and stages receive already built (never constructed inside them).
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types

from mlci_action.errors import InputError, StageFailure
from mlci_action.images.activity import DockerEvent, LogSink

_STEP = re.compile(r"^Step (\d+)/(\d+) :")
_LAYER_DONE = ("Pushed", "Layer already exists", "Mounted from", "Pull complete", "Already exists")
_BYTES = ("Pushing", "Downloading")
"""Statuses whose progressDetail counts bytes moved (``Extracting`` would count them twice)."""


def read_event(item: Mapping[str, Any]) -> DockerEvent:
    """A stream item of the engine's build, pull or push API as a :class:`DockerEvent`."""
    text = str(item.get("stream") or "").rstrip("\n")
    if text.strip():
        found = _STEP.match(text)
        if found:
            return DockerEvent(text, step=int(found.group(1)), steps=int(found.group(2)))
        return DockerEvent(text)
    status, layer = str(item.get("status") or ""), item.get("id")
    detail = item.get("progressDetail") or {}
    line = "" if detail else f"{status} {layer or ''}".rstrip()
    if not layer or not status:
        return DockerEvent(line)
    moving = status.startswith(_BYTES) and bool(detail.get("total"))
    return DockerEvent(
        line,
        layer=str(layer),
        current=int(detail.get("current") or 0) if moving else None,
        total=int(detail["total"]) if moving else None,
        done=status.startswith(_LAYER_DONE),
    )


SANDBOX_ROOT = "/mlci"
"""The one writable place (besides /tmp) in a container that runs the project's code."""
SANDBOX_PIDS = 4096


def default_memory_limit() -> str:
    """Four fifths of this machine's memory: a runaway task is killed, not the machine."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return "8g"
    return f"{max(total * 4 // 5 // 2**20, 512)}m"


def connect() -> docker.DockerClient:
    """A client for DOCKER_HOST (or the default socket); unreachable is a clear InputError."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as exc:
        raise InputError(
            f"cannot reach the Docker daemon at DOCKER_HOST={where}: {_first_line(exc)}",
            hint="start Docker (scripts/services.sh does it for the tests), set DOCKER_HOST, "
            "or use `executor: local` and leave out --package/--push",
        ) from None
    return client


def daemon_reachable() -> bool:
    try:
        docker.from_env(timeout=5).ping()
    except docker.errors.DockerException:
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


@dataclass(frozen=True)
class BuildContext:
    """An in-memory build context: a Dockerfile and files, by path inside the context."""

    dockerfile: str
    files: Mapping[str, bytes | Path]

    def tar(self) -> io.BytesIO:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            entries: dict[str, bytes | Path] = {
                "Dockerfile": self.dockerfile.encode(),
                **self.files,
            }
            for name, content in sorted(entries.items()):
                if isinstance(content, Path):
                    if content.is_dir():
                        for path in sorted(content.rglob("*")):
                            if path.is_file() and "__pycache__" not in path.parts:
                                _add(
                                    archive,
                                    f"{name}/{path.relative_to(content).as_posix()}",
                                    path.read_bytes(),
                                )
                        continue
                    content = content.read_bytes()
                _add(archive, name, content)
        buffer.seek(0)
        return buffer


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o755 if name.endswith(("uv", ".sh")) else 0o644
    info.mtime = 0  # identical content gives identical layers
    archive.addfile(info, io.BytesIO(data))


_OWN_CONTAINER = re.compile(r"/containers/([0-9a-f]{64})/(?:hostname|hosts|resolv\.conf)\s")
MOUNTINFO = Path("/proc/self/mountinfo")


def own_container_id(mountinfo: Path = MOUNTINFO) -> str | None:
    """This process's container, when mlci runs in one (the action does): Docker bind-mounts
    the container's own hostname, hosts and resolv.conf files from its folder."""
    try:
        found = _OWN_CONTAINER.search(mountinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    return found.group(1) if found else None


class Docker:
    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    def loopback_network(self) -> str:
        """The network mode for a container mlci must reach on 127.0.0.1 (a smoke-tested
        server): the host's network, or, when mlci itself runs in a container of this daemon
        (a Docker action on a GitHub runner sits on its own bridge network), that
        container's network namespace, so 127.0.0.1 is the same on both sides."""
        own = own_container_id()
        if own is not None:
            try:
                self.client.containers.get(own)
            except docker.errors.DockerException:
                return "host"  # a container of another daemon (docker-in-docker): its host
            return f"container:{own}"
        return "host"

    def sandbox(
        self,
        image: str,
        *,
        network: str = "none",
        memory: str | None = None,
        pids: int = SANDBOX_PIDS,
        labels: Mapping[str, str] | None = None,
    ) -> Any:
        """A running container for the project's code: no capabilities, no new privileges,
        a read-only root filesystem with a writable ``/tmp`` (tmpfs) and ``SANDBOX_ROOT`` (an
        anonymous volume, removed with the container), memory and process limits, no mounts
        of the host and no network unless ``network`` says so. Files go in and out through
        the API only (``put_archive``/``get_archive``)."""
        try:
            return self.client.containers.run(
                image,
                entrypoint=["sleep"],  # over a serving image's server
                command=["infinity"],
                detach=True,
                network_mode=network,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                read_only=True,
                tmpfs={"/tmp": "rw,exec,nosuid,nodev"},
                mounts=[docker.types.Mount(SANDBOX_ROOT, None, type="volume")],
                mem_limit=memory or default_memory_limit(),
                pids_limit=pids,
                labels={"org.mlci.run": "1", **dict(labels or {})},
            )
        except docker.errors.DockerException as exc:
            raise StageFailure(
                f"cannot start a container of {image}: {_first_line(exc)}",
                hint="environment.network must be a network this Docker engine has "
                "(none, bridge or host)"
                if "network" in str(exc)
                else None,
            ) from None

    def image_exists(self, tag: str) -> bool:
        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        return True

    def build(
        self,
        context: BuildContext,
        tag: str,
        sink: LogSink,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Build ``context`` as ``tag``, streaming its events to ``sink``; return the image id.

        A failed build raises a StageFailure naming the failing step, with its log.
        """
        log: list[str] = []
        step = "(before the first step)"
        stream: Iterator[dict[str, Any]] = self.client.api.build(
            fileobj=context.tar(),
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            network_mode="host",
            decode=True,
            labels=dict(labels or {}),
        )
        for chunk in stream:
            event = read_event(chunk)
            if event.text.strip():
                log.append(event.text)
                if event.step is not None:
                    step = event.text.strip()
            sink(event)
            if "error" in chunk or "errorDetail" in chunk:
                message = chunk.get("errorDetail", {}).get("message") or chunk.get("error", "")
                sink(DockerEvent(str(message)))
                tail = "\n".join([*log[-40:], message])
                hint = None
                if " FROM " in f" {step} ":
                    hint = (
                        "the base image cannot be pulled: set deploy.base_image to an image the "
                        "daemon has or can reach, or run with MLCI_EXECUTOR=local"
                    )
                raise StageFailure(
                    f"image build failed at {step}: {message.strip()}", log_tail=tail, hint=hint
                )
        return str(self.client.images.get(tag).id)

    def read_file(self, image: str, path: str) -> bytes:
        """One file of ``image``, read through a created (never started) container."""
        try:
            container = self.client.containers.create(image, entrypoint=["true"])
        except docker.errors.DockerException as exc:
            raise InputError(f"{image}: cannot open the image: {_first_line(exc)}") from None
        try:
            stream, _ = container.get_archive(path)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                member = archive.next()
                handle = archive.extractfile(member) if member is not None else None
                if handle is None:
                    raise InputError(f"{image}: {path} is not a file")
                return handle.read()
        except docker.errors.NotFound:
            raise InputError(
                f"{image}: the image has no {path}",
                hint="images built before mlci stored a reference profile have none",
            ) from None
        finally:
            container.remove(force=True)
