"""The attestation: an in-toto Statement v1 about one image digest, pushed beside the image.

:func:`statement` builds it from the run record (pure); :func:`attach` pushes it as an OCI
artifact that refers to the image (see :mod:`mlci_action.images.oci` for the referrers API
and the ``sha256-<hex>.att`` tag fallback); :func:`verify` is what ``mlci verify`` and
``mlci promote`` check before trusting an image. The statement is serialized once, as
canonical JSON (:func:`statement_bytes`): the bytes uploaded, hashed into the layer digest
and written to ``attestation.intoto.json`` are the same.

The statement is not signed: it binds the run's results to the digest, and whoever may push
to the repository may replace it. Signing (a DSSE envelope) would wrap these same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field
from pydantic.alias_generators import to_camel

from mlci_action.images.oci import (
    AttestationError,
    OciClient,
    attach_artifact,
    canonical_json,
    find_artifact,
    parse_digest_reference,
)
from mlci_action.record import RunRecord

__all__ = [
    "PREDICATE_TYPE",
    "AttestationError",
    "Statement",
    "Verification",
    "attach",
    "fetch",
    "statement",
    "verify",
    "write_statement",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://mlci.dev/attestation/run/v1"
MEDIA_TYPE = "application/vnd.in-toto+json"
TAG_SUFFIX = "att"
_LABEL_HASHES = {"org.mlci.data-hash": "data", "org.mlci.config-hash": "config"}


class _Model(BaseModel):
    # camelCase on the wire, as in-toto's own predicates; unknown fields are ignored when read,
    # so a statement from a later mlci (with fields added to v1) still verifies
    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, populate_by_name=True, extra="ignore"
    )


class Subject(_Model):
    name: str
    digest: dict[str, str]


class Metric(_Model):
    candidate: float | None = None
    baseline: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    greater_is_better: bool = True
    significant: bool | None = None


class Gate(_Model):
    name: str
    metric: str
    passed: bool
    reason: str


class SourceClaim(_Model):
    ref: str
    sha: str | None = None
    dirty: bool = False


class Approval(_Model):
    commit: str | None = None
    approvers: tuple[str, ...] = ()


class EnvironmentClaim(_Model):
    lock_hash: str
    """The environment key: the hash of the environment's lock and requirement files."""
    python: str
    executor: str


class Checks(_Model):
    data_passed: bool | None = None
    model_tests_passed: int | None = None
    model_tests_failed: int | None = None


class Predicate(_Model):
    name: str
    verdict: Literal["pass", "fail"]
    summary: str
    mode: str
    metrics: dict[str, Metric] = Field(default_factory=dict)
    gates: tuple[Gate, ...] = ()
    checks: Checks = Checks()
    hashes: dict[str, str] = Field(default_factory=dict)
    """Content hashes: ``source`` (the candidate's training key: code, data, params and
    environment), ``environment`` (the lock hash), ``data`` and ``config`` (from the image's
    labels), and whatever the caller adds (schema, params...)."""
    environment: EnvironmentClaim | None = None
    source: SourceClaim
    baseline: SourceClaim | None = None
    approval: Approval = Approval()
    run_url: str | None = None
    run_started_at: str
    mlci_version: str
    created: str


class Statement(_Model):
    type: Literal["https://in-toto.io/Statement/v1"] = Field(
        "https://in-toto.io/Statement/v1", alias="_type"
    )
    subject: tuple[Subject, ...]
    predicate_type: str
    predicate: Predicate


def statement(
    record: RunRecord,
    repository: str,
    digest: str,
    *,
    approved_commit: str | None,
    approvers: Sequence[str],
    run_url: str | None,
    hashes: Mapping[str, str],
    created: datetime | None = None,
) -> Statement:
    """The statement that the image ``repository@digest`` came out of ``record``'s run."""
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        raise AttestationError(f"{digest}: not a sha256 image digest")
    known = {"source": record.candidate.key}
    if record.environment is not None:
        known["environment"] = record.environment.key
    if record.image is not None:
        for label, name in _LABEL_HASHES.items():
            known[name] = record.image.labels.get(label)
    tests = record.model_tests
    predicate = Predicate(
        name=record.name,
        verdict=record.verdict,
        summary=record.summary,
        mode=record.mode,
        metrics={name: Metric.model_validate(m.model_dump()) for name, m in record.metrics.items()},
        gates=tuple(Gate.model_validate(g.model_dump()) for g in record.gates),
        checks=Checks(
            data_passed=record.data.passed if record.data is not None else None,
            model_tests_passed=tests.passed if tests is not None else None,
            model_tests_failed=(tests.failed + tests.errors) if tests is not None else None,
        ),
        hashes={**{k: v for k, v in known.items() if v}, **hashes},
        environment=EnvironmentClaim(
            lock_hash=record.environment.key,
            python=record.environment.python,
            executor=record.environment.executor,
        )
        if record.environment is not None
        else None,
        source=SourceClaim(
            ref=record.candidate.ref, sha=record.candidate.sha, dirty=record.candidate.dirty
        ),
        baseline=SourceClaim(ref=record.baseline.ref, sha=record.baseline.sha)
        if record.baseline is not None
        else None,
        approval=Approval(commit=approved_commit, approvers=tuple(approvers)),
        run_url=run_url,
        run_started_at=record.started_at,
        mlci_version=record.mlci_version,
        created=(created or datetime.now(UTC)).isoformat(timespec="seconds"),
    )
    return Statement(
        subject=(Subject(name=repository, digest={"sha256": hexdigest}),),
        predicate_type=PREDICATE_TYPE,
        predicate=predicate,
    )


def statement_bytes(statement: Statement) -> bytes:
    """The statement as uploaded and written: canonical JSON."""
    return canonical_json(statement.model_dump(mode="json", by_alias=True))


def parse_statement(data: bytes) -> Statement:
    return Statement.model_validate_json(data)


def write_statement(statement: Statement, path: Path) -> None:
    """Write the same bytes as pushed (their sha256 is the layer digest), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(statement_bytes(statement))
    os.replace(tmp, path)


def attach(client: OciClient, repository: str, digest: str, statement: Statement) -> str:
    """Push ``statement`` beside the image ``repository@digest``; return the digest of the
    attestation manifest. The statement must be about exactly that digest."""
    subjects = [s.digest.get("sha256") for s in statement.subject]
    if subjects != [digest.removeprefix("sha256:")]:
        raise AttestationError(f"the statement is about {subjects}, not the image {digest}")
    return attach_artifact(
        client,
        repository,
        digest,
        artifact_type=MEDIA_TYPE,
        payload=statement_bytes(statement),
        tag_suffix=TAG_SUFFIX,
        annotations={"dev.mlci.predicate-type": statement.predicate_type},
    )


def fetch(client: OciClient, repository: str, digest: str) -> Statement | None:
    """The statement attached to the image, or None; a malformed one is an error."""
    artifact = find_artifact(
        client, repository, digest, artifact_type=MEDIA_TYPE, tag_suffix=TAG_SUFFIX
    )
    if artifact is None:
        return None
    if artifact.payload is None:
        raise AttestationError(
            f"the attestation of {repository}@{digest} ({artifact.where}) has no {MEDIA_TYPE} layer"
        )
    try:
        return parse_statement(artifact.payload)
    except ValidationError as exc:
        raise AttestationError(
            f"the attestation of {repository}@{digest} is not an in-toto statement: "
            f"{_first_error(exc)}"
        ) from None


class Check(_Model):
    name: str
    passed: bool
    detail: str


class Verification(_Model):
    """What :func:`verify` found: every check, and the statement when there is one."""

    reference: str
    checks: tuple[Check, ...]
    statement: Statement | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]


def verify(client: OciClient, reference: str) -> Verification:
    """Check the attestation of ``IMAGE@sha256:DIGEST``: there is one for exactly this
    digest, its subject is this digest, its predicate type is mlci's, its verdict is pass and
    every gate passed. An unusable reference is an InputError; a registry failure an
    AttestationError; everything else is a failed check."""
    ref = parse_digest_reference(reference)
    repository, digest = ref.repository, ref.digest

    def result(*checks: Check, found: Statement | None = None) -> Verification:
        return Verification(reference=str(ref), checks=checks, statement=found)

    if client.manifest(repository, digest) is None:
        return result(Check(name="image", passed=False, detail=f"no image {ref} in the registry"))
    image = Check(name="image", passed=True, detail=f"{ref} is in the registry")
    artifact = find_artifact(
        client, repository, digest, artifact_type=MEDIA_TYPE, tag_suffix=TAG_SUFFIX
    )
    if artifact is None:
        return result(
            image,
            Check(name="attestation", passed=False, detail=f"no attestation for {digest}"),
        )
    checks = [image]
    refers = artifact.subject.digest if artifact.subject is not None else None
    checks.append(
        Check(
            name="attestation",
            passed=refers == digest and artifact.artifact_type == MEDIA_TYPE,
            detail=f"found through the {artifact.where}"
            if refers == digest and artifact.artifact_type == MEDIA_TYPE
            else f"the artifact at the {artifact.where} is a {artifact.artifact_type} "
            f"that refers to {refers or 'no image'}, not an in-toto statement about {digest}",
        )
    )
    try:
        found = parse_statement(artifact.payload) if artifact.payload is not None else None
        problem = f"no {MEDIA_TYPE} layer"
    except ValidationError as exc:
        found, problem = None, _first_error(exc)
    if found is None:
        checks.append(Check(name="statement", passed=False, detail=f"unreadable: {problem}"))
        return result(*checks)
    subjects = [s.digest.get("sha256", "?") for s in found.subject]
    checks.append(
        Check(
            name="subject",
            passed=subjects == [digest.removeprefix("sha256:")],
            detail=f"the statement is about sha256:{', sha256:'.join(subjects)}"
            + ("" if subjects == [digest.removeprefix("sha256:")] else f", not {digest}"),
        )
    )
    checks.append(
        Check(
            name="predicate type",
            passed=found.predicate_type == PREDICATE_TYPE,
            detail=found.predicate_type,
        )
    )
    predicate = found.predicate
    checks.append(
        Check(
            name="verdict",
            passed=predicate.verdict == "pass",
            detail=f"{predicate.verdict}: {predicate.summary}",
        )
    )
    failed = [g.name for g in predicate.gates if not g.passed]
    checks.append(
        Check(
            name="gates",
            passed=not failed,
            detail=f"failed: {', '.join(failed)}"
            if failed
            else f"{len(predicate.gates)} of {len(predicate.gates)} passed",
        )
    )
    return result(*checks, found=found)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "statement"
    return f"{where}: {error['msg']}"
