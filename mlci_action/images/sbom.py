"""The SBOM of a serving image's Python environment: CycloneDX 1.5 JSON, pushed beside it.

The packages are listed inside a container of the image (no network, read-only, the
sandbox of :meth:`Docker.sandbox`) with ``importlib.metadata``, so the list is what the
image's own ``python`` imports from. The document is built here by a few lines that follow
the CycloneDX 1.5 JSON schema (tests validate it against the schema), not with
cyclonedx-python-lib: that library and its six dependencies would add about 6.6 MB and
0.2 s of import to the action image for the ~15 fields used here.

The SBOM is attached like the attestation (:mod:`mlci_action.images.oci`): an artifact of
type ``application/vnd.cyclonedx+json`` that refers to the image, found through the
referrers API or under the tag ``sha256-<hex>.sbom``.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from docker.errors import DockerException

from mlci_action import __version__
from mlci_action.images.docker_api import Docker
from mlci_action.images.oci import (
    AttestationError,
    OciClient,
    attach_artifact,
    canonical_json,
    find_artifact,
)

MEDIA_TYPE = "application/vnd.cyclonedx+json"
TAG_SUFFIX = "sbom"
SPEC_VERSION = "1.5"

# runs in the image: any Python 3.8+, standard library only; prints one JSON document
_LIST = """
import importlib.metadata as m, json, sys
found = []
for d in m.distributions():
    md = d.metadata
    if not md.get("Name"):
        continue
    found.append({
        "name": md["Name"],
        "version": d.version,
        "license_expression": md.get("License-Expression"),
        "license": md.get("License"),
        "classifiers": [c for c in (md.get_all("Classifier") or []) if c.startswith("License ::")],
    })
json.dump({"python": sys.version.split()[0], "packages": found}, sys.stdout)
"""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    license_expression: str | None = None
    licenses: tuple[str, ...] = ()
    """License names (the short ``License`` field, else the license classifiers)."""

    @property
    def purl(self) -> str:
        normalized = re.sub(r"[-_.]+", "-", self.name).lower()
        return f"pkg:pypi/{quote(normalized, safe='')}@{quote(self.version, safe='')}"


@dataclass(frozen=True)
class Environment:
    python: str
    packages: tuple[Package, ...]


def parse_listing(listing: Mapping[str, Any]) -> Environment:
    """The JSON the listing script printed, as records."""
    packages = []
    for item in listing.get("packages") or []:
        license_text = (item.get("license") or "").strip()
        names: tuple[str, ...] = ()
        if license_text and "\n" not in license_text and len(license_text) <= 100:
            names = () if license_text.upper() == "UNKNOWN" else (license_text,)
        if not names:
            names = tuple(c.rsplit(" :: ", 1)[-1] for c in item.get("classifiers") or [])
        packages.append(
            Package(
                name=str(item["name"]),
                version=str(item["version"]),
                license_expression=item.get("license_expression") or None,
                licenses=names,
            )
        )
    return Environment(python=str(listing.get("python") or "?"), packages=tuple(packages))


def list_packages(docker: Docker, image: str) -> Environment:
    """The Python distributions installed in ``image``, listed in a container of it with no
    network (``python``, or ``python3`` where there is no ``python``)."""
    container = docker.sandbox(image, network="none")
    try:
        for python in ("python", "python3"):
            code, (out, err) = container.exec_run([python, "-c", _LIST], demux=True)
            if code in (126, 127):  # no such executable
                continue
            if code != 0:
                tail = (err or b"").decode(errors="replace").strip()[-500:]
                raise AttestationError(f"listing the packages of {image} failed: {tail}")
            try:
                return parse_listing(json.loads(out or b"{}"))
            except (ValueError, KeyError, TypeError, AttributeError):
                raise AttestationError(f"the package listing of {image} is unreadable") from None
        raise AttestationError(f"{image} has no python or python3 to list its packages")
    except DockerException as exc:
        raise AttestationError(f"listing the packages of {image} failed: {exc}") from None
    finally:
        with contextlib.suppress(DockerException):
            container.remove(force=True)


def bom(
    environment: Environment,
    repository: str,
    digest: str,
    *,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A CycloneDX 1.5 document: the image as the subject, one library per distribution."""
    components: dict[str, dict[str, Any]] = {}
    for package in sorted(environment.packages, key=lambda p: (p.name.lower(), p.version)):
        components.setdefault(package.purl, _component(package))
    image_ref = f"{repository}@{digest}"
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'mlci:{image_ref}')}",
        "version": 1,
        "metadata": {
            "timestamp": (created or datetime.now(UTC)).isoformat(timespec="seconds"),
            "tools": {
                "components": [{"type": "application", "name": "mlci", "version": __version__}]
            },
            "component": {
                "type": "container",
                "bom-ref": image_ref,
                "name": repository,
                "version": digest,
            },
            "properties": [{"name": "mlci:python", "value": environment.python}],
        },
        "components": list(components.values()),
    }


def _component(package: Package) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": package.purl,
        "name": package.name,
        "version": package.version,
        "purl": package.purl,
    }
    if package.license_expression:
        component["licenses"] = [{"expression": package.license_expression}]
    elif package.licenses:
        component["licenses"] = [{"license": {"name": name}} for name in package.licenses]
    return component


def generate(docker: Docker, image: str, repository: str, digest: str) -> dict[str, Any]:
    """The SBOM of the local image ``image``, about ``repository@digest`` (as pushed)."""
    return bom(list_packages(docker, image), repository, digest)


def attach_sbom(client: OciClient, repository: str, digest: str, sbom: Mapping[str, Any]) -> str:
    """Push ``sbom`` beside the image ``repository@digest``; return the artifact's digest."""
    return attach_artifact(
        client,
        repository,
        digest,
        artifact_type=MEDIA_TYPE,
        payload=canonical_json(dict(sbom)),
        tag_suffix=TAG_SUFFIX,
    )


def fetch_sbom(client: OciClient, repository: str, digest: str) -> dict[str, Any] | None:
    artifact = find_artifact(
        client, repository, digest, artifact_type=MEDIA_TYPE, tag_suffix=TAG_SUFFIX
    )
    if artifact is None:
        return None
    try:
        document = json.loads(artifact.payload or b"")
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise AttestationError(f"the SBOM of {repository}@{digest} is not a CycloneDX document")
    return document
