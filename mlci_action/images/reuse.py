"""A merge ships the approved bytes: find the approved image of the same content, retag it.

Every pushed image also carries the immutable tag ``key-<content key>`` (code, data, params,
environment: the candidate's training key). When a push to the deploy branch has the key of an
image that reviewers approved and whose attestation verifies, that image is tagged for the
commit and the moving tags, by digest, through the registry's API: nothing is retrained or
rebuilt, so what reaches production is exactly what was approved.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlci_action.images import attestation
from mlci_action.images.oci import OciClient

KEY_TAG_PREFIX = "key-"


def key_tag(key: str) -> str:
    return f"{KEY_TAG_PREFIX}{key[:64]}"


@dataclass(frozen=True)
class Approved:
    digest: str
    statement: attestation.Statement


def approved_image(client: OciClient, repository: str, key: str) -> tuple[Approved | None, str]:
    """The approved image with content ``key`` in ``repository``, or None and why not."""
    found = client.manifest(repository, key_tag(key))
    if found is None:
        return None, "no image of this content was approved and pushed"
    digest = found[0].digest
    verification = attestation.verify(client, f"{repository}@{digest}")
    statement = verification.statement
    if not verification.ok or statement is None:
        failed = "; ".join(c.detail for c in verification.checks if not c.passed)
        return None, f"the image {digest[:19]} of this content does not verify ({failed})"
    predicate = statement.predicate
    if predicate.hashes.get("source") != key:
        return None, f"the attestation of {digest[:19]} is about other content"
    if not predicate.approval.commit:
        return None, f"the image {digest[:19]} of this content was pushed without a review"
    return Approved(digest=digest, statement=statement), ""


def retag(client: OciClient, repository: str, digest: str, tags: list[str]) -> None:
    """Point each of ``tags`` at the manifest ``digest``, by the registry's API (no pull)."""
    found = client.manifest(repository, digest)
    if found is None:
        raise attestation.AttestationError(f"{repository}@{digest} is not in the registry")
    descriptor, body = found
    for tag in tags:
        client.put_manifest(repository, tag, body, descriptor.media_type)
