"""The champion: the model in production, taken out of its serving image in the registry."""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from mlci_action.images.docker_api import Docker, LogSink
from mlci_action.images.registry import Registry, RegistryError
from mlci_action.images.serving_image import MODEL_PATH

_MISSING = re.compile(r"manifest unknown|not found|does not exist", re.IGNORECASE)


@dataclass(frozen=True)
class Champion:
    reference: str
    digest: str
    model: Path
    labels: dict[str, str]


def fetch_champion(
    docker: Docker, registry: Registry, repository: str, tag: str, dest: Path, sink: LogSink
) -> Champion | None:
    """Pull ``repository:tag`` and copy its model out through the API; None if there is none."""
    reference = f"{repository}:{tag}"
    try:
        registry.pull(reference, sink)
    except RegistryError as exc:
        if _MISSING.search(exc.message):
            return None
        raise
    image = docker.client.images.get(reference)
    digests = [d for d in image.attrs.get("RepoDigests", []) if d.startswith(f"{repository}@")]
    digest = digests[0].split("@", 1)[1] if digests else str(image.id)
    container = docker.client.containers.create(image.id)
    try:
        stream, _ = container.get_archive(MODEL_PATH)
        buffer = io.BytesIO(b"".join(stream))
    finally:
        container.remove(force=True)
    with tarfile.open(fileobj=buffer) as archive:
        member = archive.extractfile("model.skops")
        if member is None:
            raise RegistryError(f"{reference} holds no model at {MODEL_PATH}", transient=False)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(member.read())
    return Champion(reference=reference, digest=digest, model=dest, labels=dict(image.labels))
