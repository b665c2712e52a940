"""A small OCI distribution client: the one adapter for mlci's own registry HTTP calls.

Docker pushes and pulls the images themselves (:mod:`mlci_action.images.registry`); this
client pushes and reads what sits beside an image: artifacts that refer to it by digest (the
attestation, the SBOM), following the OCI distribution spec 1.1:

* an artifact is an OCI image manifest whose ``config`` is the empty descriptor, whose one
  layer is the payload, and whose ``subject`` is the image's manifest descriptor;
* where the registry has the referrers API (``GET /v2/<name>/referrers/<digest>`` answers
  200) the manifest is pushed by its digest and found through that API;
* elsewhere (CNCF distribution 2.8 answers 404) it is pushed under the tag
  ``sha256-<hex>.<suffix>`` (the scheme cosign and ORAS fall back to). One manifest per tag:
  attaching again replaces the previous artifact of that kind, so the tag always holds the
  latest one (no index of every artifact ever attached: nothing reads the older ones).

Authentication: HTTP basic with :class:`Credentials`, or the token flow when the registry
answers 401 with ``WWW-Authenticate: Bearer`` (ghcr.io, Docker Hub): the token comes from
the realm, asked with the service, the scope and the same basic credentials. Transient
failures (connection errors, timeouts, 429, 5xx) are retried with bounded exponential
backoff. Every failure becomes an :class:`AttestationError` whose message never holds the
password. Loopback and ``localhost`` registries are reached over http, the rest over https
(docker's convention).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from mlci_action.errors import InputError, StageFailure
from mlci_action.images.registry import Credentials

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST])
CREATED = "org.opencontainers.image.created"
"""The annotation that orders artifacts of one kind found through the referrers API."""

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_MANIFEST_BYTES = 4 * 2**20
MAX_BLOB_BYTES = 64 * 2**20
"""Attestations and SBOMs are small: a larger payload is refused rather than read."""

T = TypeVar("T")


class AttestationError(StageFailure):
    """A registry call for an attestation or SBOM failed (exit 1)."""

    def __init__(self, message: str, *, transient: bool = False, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.transient = transient


class Descriptor(BaseModel):
    """An OCI content descriptor (serialized with the spec's camelCase names)."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    media_type: str
    digest: str
    size: int = Field(ge=0)
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    data: str | None = None

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def canonical_json(value: Any) -> bytes:
    """The bytes mlci uploads and hashes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def describe(data: bytes, media_type: str) -> Descriptor:
    return Descriptor(media_type=media_type, digest=sha256(data), size=len(data))


EMPTY_JSON = b"{}"
EMPTY = Descriptor(
    media_type=OCI_EMPTY, digest=sha256(EMPTY_JSON), size=len(EMPTY_JSON), data="e30="
)
"""The OCI empty descriptor: the config of an artifact that has none."""


def artifact_manifest(
    subject: Descriptor,
    artifact_type: str,
    layer: Descriptor,
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    """An OCI image manifest for one payload ``layer`` that refers to ``subject``."""
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": EMPTY.as_json(),
        "layers": [layer.as_json()],
        "subject": Descriptor(
            media_type=subject.media_type, digest=subject.digest, size=subject.size
        ).as_json(),
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return canonical_json(manifest)


def fallback_tag(digest: str, suffix: str) -> str:
    """``sha256:<hex>`` -> ``sha256-<hex>.<suffix>``: the tag scheme without referrers API."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}-{hexdigest}.{suffix}"


@dataclass(frozen=True)
class Repository:
    """``host[:port]/name``, split the way docker splits it."""

    host: str
    name: str

    @property
    def base_url(self) -> str:
        return f"{'http' if insecure(self.host) else 'https'}://{self.host}"

    def __str__(self) -> str:
        return f"{self.host}/{self.name}"


def insecure(host: str) -> bool:
    """Plain http for localhost and 127.0.0.0/8 (and ::1), as docker does."""
    hostname = urlsplit(f"//{host}").hostname or ""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def parse_repository(repository: str) -> Repository:
    first, sep, rest = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, name = first, rest
    else:
        host, name = "registry-1.docker.io", repository if sep else f"library/{repository}"
    if not name or name != name.lower() or any(c.isspace() for c in name):
        raise InputError(f"{repository}: not a repository name", hint="e.g. ghcr.io/owner/model")
    return Repository(host, name)


@dataclass(frozen=True)
class Reference:
    repository: str
    digest: str

    def __str__(self) -> str:
        return f"{self.repository}@{self.digest}"


def parse_digest_reference(reference: str) -> Reference:
    """``repository@sha256:<64 hex>``; anything else is unusable input (exit 2)."""
    repository, at, digest = reference.strip().partition("@")
    if not at or not repository or not DIGEST.fullmatch(digest):
        raise InputError(
            f"{reference}: not an image reference by digest",
            hint="give IMAGE@sha256:DIGEST (64 hex digits), as `mlci run --push` reported it",
        )
    parse_repository(repository)
    return Reference(repository, digest)


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class _Transient(Exception):
    pass


class OciClient:
    """Registry HTTP calls for one set of credentials (any number of registries).

    ``session`` is the test seam: a ``requests.Session`` with a fake transport mounted.
    """

    def __init__(
        self,
        credentials: Credentials | None,
        *,
        session: requests.Session | None = None,
        attempts: int = 4,
        max_wait: float = 8.0,
        timeout: float = 30.0,
    ) -> None:
        self.credentials = credentials
        self.session = session or requests.Session()
        self.attempts = attempts
        self.max_wait = max_wait
        self.timeout = timeout
        self._authorization: dict[tuple[str, str], str] = {}
        self._referrers: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"OciClient(credentials={self.credentials!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> OciClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the calls -------------------------------------------------------------------------

    def manifest(self, repository: str, reference: str) -> tuple[Descriptor, bytes] | None:
        """The manifest at a tag or digest, as stored (checked against the digest); None if
        the registry has none there."""
        repo = parse_repository(repository)
        where = f"{repo}{'@' if DIGEST.fullmatch(reference) else ':'}{reference}"
        response = self._call(
            "GET",
            repo,
            f"manifests/{reference}",
            push=False,
            headers={"Accept": MANIFEST_ACCEPT},
            expected=(200, 404),
            what=f"read the manifest {where}",
        )
        if response.status_code == 404:
            return None
        body = _limited(response, MAX_MANIFEST_BYTES, f"manifest {where}")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            media_type = str(json.loads(body).get("mediaType") or media_type)
        except (ValueError, AttributeError):
            raise AttestationError(f"the manifest {where} is not JSON") from None
        descriptor = describe(body, media_type)
        expected = reference if DIGEST.fullmatch(reference) else None
        expected = expected or response.headers.get("Docker-Content-Digest")
        if expected and expected != descriptor.digest:
            raise AttestationError(
                f"the registry sent a manifest for {where} that hashes to "
                f"{descriptor.digest}, not {expected}"
            )
        return descriptor, body

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Store ``body`` at a tag or its digest; return its digest."""
        repo = parse_repository(repository)
        digest = sha256(body)
        response = self._call(
            "PUT",
            repo,
            f"manifests/{reference}",
            push=True,
            headers={"Content-Type": media_type},
            data=body,
            expected=(201,),
            what=f"push the manifest {repo}:{reference}",
        )
        stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != digest:
            raise AttestationError(f"{repo}:{reference} was stored as {stored}, not {digest}")
        return digest

    def push_blob(self, repository: str, data: bytes) -> str:
        """Upload ``data`` (monolithic: POST an upload, PUT it with its digest) unless the
        repository already has it; return its digest."""
        repo = parse_repository(repository)
        digest = sha256(data)
        found = self._call(
            "HEAD",
            repo,
            f"blobs/{digest}",
            push=True,
            expected=(200, 404),
            what=f"look up the blob {digest} in {repo}",
        )
        if found.status_code == 200:
            return digest
        started = self._call(
            "POST",
            repo,
            "blobs/uploads/",
            push=True,
            expected=(202,),
            what=f"start a blob upload to {repo}",
        )
        location = started.headers.get("Location")
        if not location:
            raise AttestationError(f"the registry {repo.host} gave no upload location")
        url = urljoin(f"{repo.base_url}/v2/{repo.name}/blobs/uploads/", location)
        url += ("&" if "?" in url else "?") + urlencode({"digest": digest})
        self._call(
            "PUT",
            repo,
            url,
            push=True,
            headers={"Content-Type": "application/octet-stream"},
            data=data,
            expected=(201,),
            what=f"upload the blob {digest} to {repo}",
        )
        return digest

    def blob(self, repository: str, descriptor: Descriptor) -> bytes:
        """The blob of ``descriptor``, checked against its digest and size."""
        repo = parse_repository(repository)
        if descriptor.size > MAX_BLOB_BYTES:
            raise AttestationError(f"the blob {descriptor.digest} is too large to read here")
        response = self._call(
            "GET",
            repo,
            f"blobs/{descriptor.digest}",
            push=False,
            expected=(200,),
            what=f"read the blob {descriptor.digest} from {repo}",
        )
        data = _limited(response, MAX_BLOB_BYTES, f"blob {descriptor.digest}")
        if sha256(data) != descriptor.digest or len(data) != descriptor.size:
            raise AttestationError(
                f"the blob {descriptor.digest} from {repo} does not match its digest or size"
            )
        return data

    def referrers(
        self, repository: str, digest: str, artifact_type: str | None = None
    ) -> list[Descriptor] | None:
        """The manifests that refer to ``digest`` (of ``artifact_type``, when given), or None
        when the registry has no referrers API."""
        repo = parse_repository(repository)
        query = f"?{urlencode({'artifactType': artifact_type})}" if artifact_type else ""
        response = self._call(
            "GET",
            repo,
            f"referrers/{digest}{query}",
            push=False,
            headers={"Accept": OCI_INDEX},
            expected=(200, 404),
            what=f"list what refers to {repo}@{digest}",
        )
        self._referrers[repo.host] = response.status_code == 200
        if response.status_code == 404:
            return None
        try:
            index = json.loads(_limited(response, MAX_MANIFEST_BYTES, "referrers index"))
            found = [Descriptor.model_validate(m) for m in index.get("manifests") or []]
        except (ValueError, AttributeError, ValidationError):
            raise AttestationError(f"the referrers of {repo}@{digest} are not an index") from None
        return [d for d in found if artifact_type is None or d.artifact_type == artifact_type]

    def has_referrers_api(self, repository: str, digest: str) -> bool:
        repo = parse_repository(repository)
        if repo.host not in self._referrers:
            self.referrers(repository, digest)
        return self._referrers[repo.host]

    # -- HTTP, authentication, retries -----------------------------------------------------

    def _call(
        self,
        method: str,
        repo: Repository,
        path: str,
        *,
        push: bool,
        expected: tuple[int, ...],
        what: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> requests.Response:
        url = path if "://" in path else f"{repo.base_url}/v2/{repo.name}/{path}"
        scope = f"repository:{repo.name}:{'pull,push' if push else 'pull'}"

        def once() -> requests.Response:
            response = self._send(method, url, repo.host, scope, headers or {}, data)
            if method != "GET" or response.status_code != 200:
                _ = response.content  # small: read now, so the connection goes back to the pool
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(f"HTTP {response.status_code}")
            return response

        try:
            response = self._retrying(once)
        except (_Transient, requests.RequestException) as exc:
            raise AttestationError(
                f"could not {what}: {self._scrub(_first_line(exc))}", transient=True
            ) from None
        if response.status_code in (401, 403):
            raise AttestationError(
                f"could not {what}: the registry {repo.host} answered "
                f"{response.status_code} {self._scrub(_error_text(response))}",
                hint="check the registry credentials (MLCI_REGISTRY_USERNAME / "
                "MLCI_REGISTRY_PASSWORD) and their access to this repository",
            )
        if response.status_code not in expected:
            raise AttestationError(
                f"could not {what}: HTTP {response.status_code} "
                f"{self._scrub(_error_text(response))}".rstrip()
            )
        return response

    def _retrying(self, call: Callable[[], T]) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.5, max=self.max_wait),
            retry=retry_if_exception(
                lambda exc: isinstance(
                    exc, _Transient | requests.ConnectionError | requests.Timeout
                )
            ),
            reraise=True,
        )
        return retrying(call)

    def _send(
        self,
        method: str,
        url: str,
        host: str,
        scope: str,
        headers: Mapping[str, str],
        data: bytes | None,
    ) -> requests.Response:
        """One request; on a 401 authenticate as the challenge says and send it once more."""
        for attempt in range(2):
            authorization = self._authorization.get((host, scope)) or self._authorization.get(
                (host, "")
            )
            full = {**headers, **({"Authorization": authorization} if authorization else {})}
            response = self.session.request(
                method, url, headers=full, data=data, timeout=self.timeout, stream=True
            )
            if response.status_code != 401 or attempt == 1:
                return response
            challenge = response.headers.get("WWW-Authenticate", "")
            if not self._authenticate(host, scope, challenge):
                return response
            response.close()
        raise AssertionError("unreachable")

    def _authenticate(self, host: str, scope: str, challenge: str) -> bool:
        """Obtain an Authorization header for ``host`` (and ``scope``); False if there is
        nothing more to try."""
        kind = challenge.split(" ", 1)[0].lower()
        if kind == "basic":
            if self.credentials is None or (host, "") in self._authorization:
                return False
            self._authorization[(host, "")] = self._basic()
            return True
        if kind != "bearer":
            return False
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.get("realm")
        if not realm:
            return False
        query = {"scope": scope, **({"service": params["service"]} if "service" in params else {})}
        auth = {"Authorization": self._basic()} if self.credentials else {}
        try:
            response = self._retrying(
                lambda: self._token_request(f"{realm}?{urlencode(query)}", auth)
            )
        except (_Transient, requests.RequestException) as exc:
            raise AttestationError(
                f"could not reach the token service of {host}: {self._scrub(_first_line(exc))}",
                transient=True,
            ) from None
        if response.status_code != 200:
            raise AttestationError(
                f"the token service of {host} answered {response.status_code} for {scope}",
                hint="check the registry credentials (MLCI_REGISTRY_USERNAME / "
                "MLCI_REGISTRY_PASSWORD) and their access to this repository",
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AttestationError(f"the token service of {host} sent no token")
        self._authorization[(host, scope)] = f"Bearer {token}"
        return True

    def _token_request(self, url: str, headers: Mapping[str, str]) -> requests.Response:
        response = self.session.get(url, headers=dict(headers), timeout=self.timeout)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code}")
        return response

    def _basic(self) -> str:
        assert self.credentials is not None
        pair = f"{self.credentials.username}:{self.credentials.password}".encode()
        return f"Basic {base64.b64encode(pair).decode()}"

    def _scrub(self, text: str) -> str:
        if self.credentials and self.credentials.password:
            text = text.replace(self.credentials.password, "***")
        return text


def _limited(response: requests.Response, limit: int, what: str) -> bytes:
    """The body, read as a stream and refused past ``limit`` bytes."""
    body = bytearray()
    with response:
        for chunk in response.iter_content(1 << 16):
            body += chunk
            if len(body) > limit:
                raise AttestationError(f"the {what} is larger than {limit} bytes")
    return bytes(body)


def _error_text(response: requests.Response) -> str:
    """The registry's own error codes and messages, or the reason phrase."""
    try:
        errors = response.json().get("errors") or []
        text = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip() for e in errors)
    except (ValueError, AttributeError):
        text = ""
    return (text or response.reason or "")[:300]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


# -- artifacts that refer to an image ------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """An artifact found for an image: what its manifest says, and its payload (the first
    layer of its artifact type), already checked against the layer's digest."""

    manifest: Descriptor
    artifact_type: str | None
    subject: Descriptor | None
    payload: bytes | None
    where: str
    """How it was found: ``referrers API`` or ``tag <tag>``."""


def attach_artifact(
    client: OciClient,
    repository: str,
    subject_digest: str,
    *,
    artifact_type: str,
    payload: bytes,
    tag_suffix: str,
    annotations: Mapping[str, str] | None = None,
) -> str:
    """Push ``payload`` as an artifact referring to the image ``repository@subject_digest``
    (which must be in the registry); return the artifact manifest's digest."""
    found = client.manifest(repository, subject_digest)
    if found is None:
        raise AttestationError(f"no image {repository}@{subject_digest} in the registry")
    subject, _ = found
    client.push_blob(repository, EMPTY_JSON)
    client.push_blob(repository, payload)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    manifest = artifact_manifest(
        subject,
        artifact_type,
        describe(payload, artifact_type),
        {CREATED: created, **(annotations or {})},
    )
    if client.has_referrers_api(repository, subject_digest):
        return client.put_manifest(repository, sha256(manifest), manifest, OCI_MANIFEST)
    tag = fallback_tag(subject_digest, tag_suffix)
    return client.put_manifest(repository, tag, manifest, OCI_MANIFEST)


def find_artifact(
    client: OciClient, repository: str, subject_digest: str, *, artifact_type: str, tag_suffix: str
) -> Artifact | None:
    """The latest artifact of ``artifact_type`` for the image, through the referrers API
    where the registry has it, else under the fallback tag; None if there is none."""
    referrers = client.referrers(repository, subject_digest, artifact_type)
    if referrers:
        latest = max(referrers, key=lambda d: (d.annotations or {}).get(CREATED, ""))
        found = client.manifest(repository, latest.digest)
        where = "referrers API"
    else:
        tag = fallback_tag(subject_digest, tag_suffix)
        found = client.manifest(repository, tag)
        where = f"tag {tag}"
    if found is None:
        return None
    descriptor, body = found
    if descriptor.media_type != OCI_MANIFEST:
        return Artifact(descriptor, descriptor.media_type, None, None, where)
    try:
        manifest = json.loads(body)
        layers = [Descriptor.model_validate(layer) for layer in manifest.get("layers") or []]
        subject = manifest.get("subject")
        subject = Descriptor.model_validate(subject) if subject is not None else None
        kind = (
            manifest.get("artifactType") or Descriptor.model_validate(manifest["config"]).media_type
        )
    except (ValueError, AttributeError, KeyError, TypeError, ValidationError):
        raise AttestationError(
            f"the manifest {repository}@{descriptor.digest} is malformed"
        ) from None
    layer = next((layer for layer in layers if layer.media_type == artifact_type), None)
    payload = client.blob(repository, layer) if layer is not None else None
    return Artifact(descriptor, str(kind), subject, payload, where)
