"""Attestations and SBOMs end to end: a real image pushed to the real authenticated registry
(CNCF distribution 2.8: no referrers API, so the ``sha256-<hex>.att`` tag scheme), then the
real `mlci verify` and `mlci promote`.

The images are built FROM the base image with one fake Python distribution added, so the
SBOM has something to list (the base image's python has none of its own)."""

from __future__ import annotations

import json
import uuid

import pytest

from mlci_action.images import attestation, oci, sbom
from mlci_action.images.docker_api import BuildContext, Docker
from mlci_action.images.registry import Credentials, Registry
from mlci_action.record import GateResult, MetricResult, RunRecord, Source, StageResult, Status
from tests.docker.test_images import registry_env, registry_tags

DEMO_METADATA = b"Metadata-Version: 2.1\nName: mlci-demo-pkg\nVersion: 1.2.3\nLicense: MIT\n"


@pytest.fixture
def repository(registry) -> str:
    return registry.repository(f"mlci-test/att-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def push_image(docker_client, base_image, registry):
    """Build a tiny image (a variant label makes each one distinct) and push it by hand, as
    `Registry.publish` does; return its digest."""
    docker = Docker(docker_client)
    credentials = Credentials(registry.username, registry.password)

    def push(repository: str, tag: str = "v1") -> str:
        context = BuildContext(
            f"FROM {base_image}\nCOPY site /usr/lib/python3/dist-packages/\n",
            {"site/mlci_demo_pkg-1.2.3.dist-info/METADATA": DEMO_METADATA},
        )
        local = f"mlci-test-att:{uuid.uuid4().hex[:12]}"
        image_id = docker.build(context, local, lambda _: None, labels={"variant": local})
        try:
            return Registry(docker, credentials).publish(
                image_id, repository, [tag], [], lambda _: None
            )
        finally:
            docker_client.images.remove(local, force=True)

    return push


@pytest.fixture
def client(registry):
    with oci.OciClient(Credentials(registry.username, registry.password)) as made:
        yield made


def run_record(verdict: str = "pass", gate_passed: bool = True) -> RunRecord:
    return RunRecord(
        mlci_version="0.1.0",
        name="demo",
        verdict=verdict,
        summary=f"verdict {verdict}",
        started_at="2026-11-28T11:59:00+00:00",
        seconds=1.0,
        candidate=Source(role="candidate", ref="HEAD", sha="c" * 40, key="k" * 40),
        stages={"train": StageResult(status=Status.PASSED)},
        metrics={"accuracy": MetricResult(candidate=0.93, baseline=0.9, ci_low=0.01, ci_high=0.05)},
        gates=[GateResult(name="accuracy", metric="accuracy", passed=gate_passed, reason="r")],
        cache={"hit": False, "key": "x"},
    )


def attest(client, repository: str, digest: str, record: RunRecord | None = None) -> str:
    made = attestation.statement(
        record or run_record(),
        repository,
        digest,
        approved_commit="c" * 40,
        approvers=["alice"],
        run_url=None,
        hashes={"schema": "5" * 40},
    )
    return attestation.attach(client, repository, digest, made)


def test_attested_image_verifies_has_an_sbom_and_is_promoted(
    push_image, repository, client, registry, mlci, docker_client, tmp_path
):
    digest = push_image(repository)
    reference = f"{repository}@{digest}"
    made = attestation.statement(
        run_record(),
        repository,
        digest,
        approved_commit="c" * 40,
        approvers=["alice"],
        run_url="https://ci.example/run/7",
        hashes={},
    )
    manifest_digest = attestation.attach(client, repository, digest, made)
    name = repository.removeprefix(f"{registry.host}/")
    assert oci.fallback_tag(digest, "att") in registry_tags(registry, name)

    # the stored manifest refers to the image's own (docker) manifest, by digest and size
    image, image_body = client.manifest(repository, digest)
    assert image.media_type == oci.DOCKER_MANIFEST and image.size == len(image_body)
    stored, body = client.manifest(repository, oci.fallback_tag(digest, "att"))
    assert stored.digest == manifest_digest == oci.sha256(body)
    manifest = json.loads(body)
    assert manifest["subject"] == {
        "mediaType": oci.DOCKER_MANIFEST,
        "digest": digest,
        "size": image.size,
    }
    assert manifest["artifactType"] == "application/vnd.in-toto+json"
    # the layer is the file the deploy stage writes, byte for byte
    path = tmp_path / "attestation.intoto.json"
    attestation.write_statement(made, path)
    layer = oci.Descriptor.model_validate(manifest["layers"][0])
    assert client.blob(repository, layer) == path.read_bytes()
    assert attestation.fetch(client, repository, digest) == made

    # the SBOM, generated from the image itself (no network) and read back from the registry
    docker = Docker(docker_client)
    document = sbom.generate(docker, reference, repository, digest)
    sbom.attach_sbom(client, repository, digest, document)
    assert oci.fallback_tag(digest, "sbom") in registry_tags(registry, name)
    fetched = sbom.fetch_sbom(client, repository, digest)
    assert fetched == document
    demo = next(c for c in fetched["components"] if c["name"] == "mlci-demo-pkg")
    assert demo["purl"] == "pkg:pypi/mlci-demo-pkg@1.2.3"
    assert demo["licenses"] == [{"license": {"name": "MIT"}}]
    assert fetched["metadata"]["component"]["version"] == digest
    assert fetched["metadata"]["properties"] == [{"name": "mlci:python", "value": "3.11.2"}]

    done = mlci("verify", reference, env=registry_env(registry))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == reference
    assert "verified" in done.stderr and "approved by alice" in done.stderr
    assert "https://ci.example/run/7" in done.stderr
    assert registry.password not in done.stderr + done.stdout

    as_json = mlci("verify", reference, "--json", env=registry_env(registry))
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["ok"] is True and result["reasons"] == []
    assert result["statement"]["predicateType"] == attestation.PREDICATE_TYPE

    promoted = mlci("promote", reference, "--tag", "production", env=registry_env(registry))
    assert promoted.returncode == 0, promoted.stderr
    assert "attested" in promoted.stderr
    assert "production" in registry_tags(registry, name)


def test_a_failed_run_does_not_verify(push_image, repository, client, registry, mlci):
    digest = push_image(repository)
    attest(client, repository, digest, run_record(verdict="fail", gate_passed=False))
    done = mlci("verify", f"{repository}@{digest}", env=registry_env(registry))
    assert done.returncode == 1, done.stderr
    assert "✘ verdict" in done.stderr and "✘ gates" in done.stderr
    assert "failed: accuracy" in done.stderr
    assert "✔ subject" in done.stderr and "not verified" in done.stderr


def test_another_images_attestation_under_the_tag_does_not_verify(
    push_image, repository, client, registry
):
    digest = push_image(repository, "a")
    other = push_image(repository, "b")
    assert digest != other
    attest(client, repository, other)
    assert attestation.verify(client, f"{repository}@{other}").ok
    # copy the other image's attestation manifest to this image's tag
    _, body = client.manifest(repository, oci.fallback_tag(other, "att"))
    client.put_manifest(repository, oci.fallback_tag(digest, "att"), body, oci.OCI_MANIFEST)
    result = attestation.verify(client, f"{repository}@{digest}")
    assert not result.ok
    failed = {c.name for c in result.checks if not c.passed}
    assert failed == {"attestation", "subject"}
    assert any(f"refers to {other}" in reason for reason in result.reasons)

    # a statement about the other image in a manifest that refers to this one
    payload = attestation.statement_bytes(
        attestation.statement(
            run_record(),
            repository,
            other,
            approved_commit=None,
            approvers=[],
            run_url=None,
            hashes={},
        )
    )
    oci.attach_artifact(
        client,
        repository,
        digest,
        artifact_type=attestation.MEDIA_TYPE,
        payload=payload,
        tag_suffix="att",
    )
    result = attestation.verify(client, f"{repository}@{digest}")
    assert [c.name for c in result.checks if not c.passed] == ["subject"]
    assert result.reasons == [
        f"subject: the statement is about {other}, not {digest}",
    ]


def test_an_unattested_image_is_refused_by_promote_unless_forced(
    push_image, repository, registry, mlci
):
    digest = push_image(repository)
    reference = f"{repository}@{digest}"
    name = repository.removeprefix(f"{registry.host}/")
    done = mlci("verify", reference, env=registry_env(registry))
    assert done.returncode == 1
    assert f"no attestation for {digest}" in done.stderr

    refused = mlci("promote", reference, "--tag", "production", env=registry_env(registry))
    assert refused.returncode == 1, refused.stderr
    assert "refused" in refused.stderr and "no passing mlci attestation" in refused.stderr
    assert f"no attestation for {digest}" in refused.stderr
    assert "production" not in registry_tags(registry, name)

    forced = mlci(
        "promote", reference, "--tag", "production", "--force", env=registry_env(registry)
    )
    assert forced.returncode == 0, forced.stderr
    assert "--force" in forced.stderr
    assert "production" in registry_tags(registry, name)
    assert forced.stdout.strip() == reference


def test_wrong_password_and_missing_image(push_image, repository, registry, mlci):
    digest = push_image(repository)
    secret = "definitely-wrong-password-456"
    done = mlci("verify", f"{repository}@{digest}", env=registry_env(registry, secret))
    assert done.returncode == 1
    assert "401" in done.stderr and "MLCI_REGISTRY_PASSWORD" in done.stderr
    assert secret not in done.stderr + done.stdout

    missing = "sha256:" + "0" * 64
    done = mlci("verify", f"{repository}@{missing}", env=registry_env(registry))
    assert done.returncode == 1
    assert "no image" in done.stderr

    done = mlci("verify", f"{repository}:v1", env=registry_env(registry))
    assert done.returncode == 2 and "IMAGE@sha256:DIGEST" in done.stderr


@pytest.fixture(scope="module", autouse=True)
def remove_test_images(docker_client):
    """Narrower than the session-wide cleanup of tests/docker/conftest.py: only the images
    this module tagged (its repositories' tags), so nobody else's images on the daemon go."""
    yield
    for image in docker_client.images.list():
        for tag in image.tags:
            if tag.startswith("127.0.0.1:5000/mlci-test/att-"):
                docker_client.images.remove(tag, force=True)
