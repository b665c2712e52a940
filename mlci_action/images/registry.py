"""Pushing to and pulling from a registry, through the docker SDK, with its errors read.

docker-py's ``images.push`` does not raise when the push stream reports an error
(docker/docker-py issues 3161 and 3277): every stream here is read to the end and an
``error``/``errorDetail`` item becomes a :class:`RegistryError`. Transient failures
(connection refused, 5xx, timeouts) are retried with exponential backoff; authentication
failures are not. Credentials come from MLCI_REGISTRY_USERNAME / MLCI_REGISTRY_PASSWORD or
the Docker config, and never reach a log or a message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import docker.errors
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from mlci_action.errors import InputError, StageFailure
from mlci_action.images.docker_api import Docker, DockerEvent, LogSink, read_event

_TRANSIENT = re.compile(
    r"connection refused|timeout|timed out|EOF|50[0-9] |502|503|504|too many requests|i/o timeout|reset by peer",
    re.IGNORECASE,
)
_AUTH = re.compile(
    r"unauthorized|authentication required|denied|no basic auth credentials", re.IGNORECASE
)


class RegistryError(StageFailure):
    def __init__(self, message: str, *, transient: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.transient = transient


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password, not even in a traceback
        return f"Credentials(username={self.username!r}, password='***')"

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def credentials_from_env(environ: Mapping[str, str] = os.environ) -> Credentials | None:
    user, password = environ.get("MLCI_REGISTRY_USERNAME"), environ.get("MLCI_REGISTRY_PASSWORD")
    if user and password:
        return Credentials(user, password)
    if user or password:
        raise InputError(
            "only one of MLCI_REGISTRY_USERNAME and MLCI_REGISTRY_PASSWORD is set",
            hint="set both, or neither to use the Docker config (docker login)",
        )
    return None


def _scrub(text: str, credentials: Credentials | None) -> str:
    if credentials and credentials.password:
        text = text.replace(credentials.password, "***")
    return text


def _read_stream(
    stream: Iterable[dict[str, Any]], what: str, sink: LogSink, credentials: Credentials | None
) -> str | None:
    """Read a push/pull stream to the end; return the digest it reports; raise on an error item."""
    digest = None
    for item in stream:
        if "errorDetail" in item or "error" in item:
            message = _scrub(
                str(item.get("errorDetail", {}).get("message") or item.get("error")), credentials
            )
            sink(DockerEvent(f"error: {message}"))
            auth = bool(_AUTH.search(message))
            raise RegistryError(
                f"{what} failed: {message}",
                transient=not auth and bool(_TRANSIENT.search(message)),
                hint="check the registry credentials (MLCI_REGISTRY_USERNAME / MLCI_REGISTRY_PASSWORD)"
                if auth
                else None,
            )
        aux = item.get("aux") or {}
        if "Digest" in aux:
            digest = str(aux["Digest"])
        sink(read_event(item))
    return digest


class Registry:
    def __init__(
        self,
        docker: Docker,
        credentials: Credentials | None,
        attempts: int = 4,
        max_wait: float = 8.0,
    ):
        self.docker = docker
        self.credentials = credentials
        self.attempts = attempts
        self.max_wait = max_wait

    def _retrying(self) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.5, max=self.max_wait),
            retry=retry_if_exception(lambda exc: isinstance(exc, RegistryError) and exc.transient),
            reraise=True,
        )

    def _api(self, call: str, *args: Any, **kwargs: Any) -> Iterable[dict[str, Any]]:
        try:
            result: Iterable[dict[str, Any]] = getattr(self.docker.client.api, call)(
                *args, **kwargs
            )
            return result
        except docker.errors.APIError as exc:
            message = _scrub(str(exc.explanation or exc), self.credentials)
            raise RegistryError(
                f"{call} failed: {message}",
                transient=exc.is_server_error() or bool(_TRANSIENT.search(message)),
            ) from None
        except docker.errors.DockerException as exc:  # connection to the daemon itself
            raise RegistryError(
                f"{call} failed: {_scrub(str(exc), self.credentials)}", transient=True
            ) from None

    def push(self, repository: str, tag: str, sink: LogSink) -> str:
        """Push ``repository:tag``; return the manifest digest the registry reported."""
        auth = self.credentials.auth_config() if self.credentials else None

        def attempt() -> str:
            stream = self._api(
                "push", repository, tag=tag, stream=True, decode=True, auth_config=auth
            )
            digest = _read_stream(stream, f"push of {repository}:{tag}", sink, self.credentials)
            if digest is None:
                raise RegistryError(
                    f"push of {repository}:{tag} reported no digest", transient=True
                )
            return digest

        result: str = self._retrying()(attempt)
        return result

    def pull(self, reference: str, sink: LogSink) -> None:
        repository, tag = split_reference(reference)
        auth = self.credentials.auth_config() if self.credentials else None

        def attempt() -> None:
            stream = self._api(
                "pull", repository, tag=tag, stream=True, decode=True, auth_config=auth
            )
            _read_stream(stream, f"pull of {reference}", sink, self.credentials)

        self._retrying()(attempt)

    def publish(
        self, image_id: str, repository: str, immutable: list[str], moving: list[str], sink: LogSink
    ) -> str:
        """Tag and push: the immutable tags first; moving tags only once those succeeded and
        only if they point at the same digest. Returns the digest."""
        image = self.docker.client.images.get(image_id)
        digest = None
        for tag in immutable:
            image.tag(repository, tag)
            pushed = self.push(repository, tag, sink)
            if digest is not None and pushed != digest:
                raise RegistryError(
                    f"{repository}:{tag} was stored as {pushed}, not {digest}", transient=False
                )
            digest = pushed
        if digest is None:
            raise RegistryError("no immutable tag to push", transient=False)
        for tag in moving:
            image.tag(repository, tag)
            moved = self.push(repository, tag, sink)
            if moved != digest:
                raise RegistryError(
                    f"moving tag {tag} points at {moved}, not {digest}", transient=False
                )
        return digest

    def promote(self, reference: str, tag: str, sink: LogSink) -> str:
        """Point ``tag`` at the image ``repository@sha256:...`` without rebuilding it."""
        repository, digest = split_reference(reference)
        if not digest.startswith("sha256:"):
            raise InputError(
                f"{reference}: promote takes IMAGE@sha256:DIGEST",
                hint="use the digest `mlci run` reported",
            )
        self.pull(reference, sink)
        image = self.docker.client.images.get(reference)
        image.tag(repository, tag)
        moved = self.push(repository, tag, sink)
        if moved != digest:
            raise RegistryError(
                f"{repository}:{tag} now points at {moved}, expected {digest}", transient=False
            )
        return moved


def split_reference(reference: str) -> tuple[str, str]:
    """``repo@sha256:..`` -> (repo, sha256:..); ``repo:tag`` -> (repo, tag); a port is not a tag."""
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        return repository, digest
    name, _, last = reference.rpartition("/")
    if ":" in last:
        image, tag = last.split(":", 1)
        return (f"{name}/{image}" if name else image), tag
    return reference, "latest"
