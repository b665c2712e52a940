"""The attestation and the SBOM without Docker: the statement, the manifest bytes, the
CycloneDX document, references, and the OCI client against a small in-memory registry that
has what the local one lacks (token auth, the referrers API, faults)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from mlci_action.cli import main
from mlci_action.errors import InputError
from mlci_action.images import attestation, oci, sbom
from mlci_action.images.registry import Credentials
from mlci_action.record import (
    DataReport,
    EnvironmentInfo,
    GateResult,
    ImageInfo,
    MetricResult,
    ModelTestsReport,
    RunRecord,
    Source,
    StageResult,
    Status,
)

DIGEST = "sha256:" + "ab" * 32
CREATED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def run_record(**changes) -> RunRecord:
    base = RunRecord(
        mlci_version="0.1.0",
        name="demo",
        verdict="pass",
        summary="2 of 2 gates passed",
        started_at="2026-11-28T11:59:00+00:00",
        seconds=3.0,
        candidate=Source(role="candidate", ref="HEAD", sha="c" * 40, key="k" * 40),
        baseline=Source(role="baseline", ref="main", sha="b" * 40),
        stages={"train": StageResult(status=Status.PASSED)},
        metrics={
            "accuracy": MetricResult(
                baseline=0.9,
                candidate=0.93,
                delta=0.03,
                ci_low=0.01,
                ci_high=0.05,
                significant=True,
            )
        },
        gates=[
            GateResult(name="accuracy", metric="accuracy", passed=True, reason="ok"),
            GateResult(name="latency", metric="p99_ms", passed=True, reason="ok"),
        ],
        data=DataReport(passed=True),
        model_tests=ModelTestsReport(passed=4, failed=1, errors=1),
        environment=EnvironmentInfo(key="e" * 40, python="3.11.2", executor="docker", reused=True),
        cache={"hit": False, "key": "x"},
        image=ImageInfo(
            tag="mlci-serve/demo:1",
            image_id="sha256:1",
            environment_image="mlci-env/demo:1",
            environment_reused=True,
            size_bytes=1,
            model_layer_bytes=1,
            labels={"org.mlci.data-hash": "d" * 40, "org.mlci.config-hash": "f" * 40},
        ),
    )
    return base.model_copy(update=changes)


def make_statement(record: RunRecord | None = None, digest: str = DIGEST, repository: str = "r/x"):
    return attestation.statement(
        record or run_record(),
        repository,
        digest,
        approved_commit="c" * 40,
        approvers=["alice", "bob"],
        run_url="https://ci.example/run/1",
        hashes={"schema": "5" * 40, "params": "6" * 40},
        created=CREATED,
    )


# -- the statement ---------------------------------------------------------------------------


def test_statement_is_an_in_toto_statement_v1_about_the_digest():
    doc = json.loads(attestation.statement_bytes(make_statement(repository="ghcr.io/o/m")))
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["subject"] == [{"name": "ghcr.io/o/m", "digest": {"sha256": "ab" * 32}}]
    assert doc["predicateType"] == "https://mlci.dev/attestation/run/v1"
    p = doc["predicate"]
    assert p["verdict"] == "pass" and p["name"] == "demo" and p["mode"] == "compare"
    assert p["metrics"]["accuracy"] == {
        "candidate": 0.93,
        "baseline": 0.9,
        "delta": 0.03,
        "ciLow": 0.01,
        "ciHigh": 0.05,
        "greaterIsBetter": True,
        "significant": True,
    }
    assert [(g["name"], g["passed"]) for g in p["gates"]] == [("accuracy", True), ("latency", True)]
    assert p["hashes"] == {
        "source": "k" * 40,
        "environment": "e" * 40,
        "data": "d" * 40,
        "config": "f" * 40,
        "schema": "5" * 40,
        "params": "6" * 40,
    }
    assert p["environment"] == {"lockHash": "e" * 40, "python": "3.11.2", "executor": "docker"}
    assert p["approval"] == {"commit": "c" * 40, "approvers": ["alice", "bob"]}
    assert p["source"] == {"ref": "HEAD", "sha": "c" * 40, "dirty": False}
    assert p["baseline"]["sha"] == "b" * 40
    assert p["checks"] == {"dataPassed": True, "modelTestsPassed": 4, "modelTestsFailed": 2}
    assert p["runUrl"] == "https://ci.example/run/1"
    assert p["mlciVersion"] == "0.1.0" and p["created"] == "2026-11-28T12:00:00+00:00"


def test_statement_without_optional_parts_and_round_trip():
    record = run_record(environment=None, image=None, baseline=None, data=None, model_tests=None)
    made = attestation.statement(
        record, "r/x", DIGEST, approved_commit=None, approvers=[], run_url=None, hashes={}
    )
    assert made.predicate.hashes == {"source": "k" * 40}
    assert made.predicate.environment is None and made.predicate.run_url is None
    assert attestation.parse_statement(attestation.statement_bytes(made)) == made
    with pytest.raises(attestation.AttestationError, match="not a sha256 image digest"):
        attestation.statement(
            record, "r/x", "sha512:00", approved_commit=None, approvers=[], run_url=None, hashes={}
        )


def test_statement_is_immutable():
    made = make_statement()
    with pytest.raises(ValueError):
        made.predicate_type = "x"  # type: ignore[misc]


def test_written_statement_is_the_uploaded_bytes(tmp_path):
    made = make_statement()
    path = tmp_path / "out" / "attestation.intoto.json"
    attestation.write_statement(made, path)
    data = path.read_bytes()
    assert data == attestation.statement_bytes(made)
    assert (
        data
        == json.dumps(
            json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    assert not list(path.parent.glob(".*tmp"))


# -- the manifest ----------------------------------------------------------------------------


def test_artifact_manifest_bytes_digests_and_sizes():
    payload = attestation.statement_bytes(make_statement())
    layer = oci.describe(payload, attestation.MEDIA_TYPE)
    subject = oci.Descriptor(media_type=oci.DOCKER_MANIFEST, digest=DIGEST, size=528)
    body = oci.artifact_manifest(subject, attestation.MEDIA_TYPE, layer, {"a": "b"})
    assert body == oci.canonical_json(json.loads(body))
    manifest = json.loads(body)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["artifactType"] == "application/vnd.in-toto+json"
    assert manifest["config"] == {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "size": 2,
        "data": "e30=",
    }
    assert manifest["config"]["digest"] == "sha256:" + hashlib.sha256(b"{}").hexdigest()
    assert manifest["layers"] == [
        {
            "mediaType": "application/vnd.in-toto+json",
            "digest": "sha256:" + hashlib.sha256(payload).hexdigest(),
            "size": len(payload),
        }
    ]
    assert manifest["subject"] == {"mediaType": oci.DOCKER_MANIFEST, "digest": DIGEST, "size": 528}
    assert manifest["annotations"] == {"a": "b"}


def test_fallback_tags():
    assert oci.fallback_tag(DIGEST, "att") == f"sha256-{'ab' * 32}.att"
    assert oci.fallback_tag(DIGEST, "sbom") == f"sha256-{'ab' * 32}.sbom"


# -- references and hosts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repository", "host", "name", "scheme"),
    [
        ("127.0.0.1:5000/mlci-test/x", "127.0.0.1:5000", "mlci-test/x", "http"),
        ("127.8.0.2:5000/x", "127.8.0.2:5000", "x", "http"),
        ("localhost:5000/a/b", "localhost:5000", "a/b", "http"),
        ("[::1]:5000/a", "[::1]:5000", "a", "http"),
        ("ghcr.io/owner/model", "ghcr.io", "owner/model", "https"),
        ("10.0.0.1:5000/a", "10.0.0.1:5000", "a", "https"),
        ("owner/model", "registry-1.docker.io", "owner/model", "https"),
        ("busybox", "registry-1.docker.io", "library/busybox", "https"),
    ],
)
def test_repository_hosts_follow_dockers_convention(repository, host, name, scheme):
    repo = oci.parse_repository(repository)
    assert (repo.host, repo.name) == (host, name)
    assert repo.base_url == f"{scheme}://{host}"


@pytest.mark.parametrize(
    "reference",
    ["ghcr.io/o/m:latest", "ghcr.io/o/m@sha256:abc", "@" + DIGEST, "ghcr.io/O/M@" + DIGEST, ""],
)
def test_unusable_references_are_input_errors(reference):
    with pytest.raises(InputError) as info:
        oci.parse_digest_reference(reference)
    assert info.value.exit_code == 2


def test_verify_cli_exits_2_for_an_unusable_reference(capsys):
    assert main(["verify", "ghcr.io/o/m:latest"], environ={}) == 2
    assert "IMAGE@sha256:DIGEST" in capsys.readouterr().err
    assert main(["promote", "ghcr.io/o/m:latest", "--tag", "production"], environ={}) == 2


# -- the SBOM --------------------------------------------------------------------------------

LISTING = {
    "python": "3.11.2",
    "packages": [
        {"name": "Typing_Extensions", "version": "4.12.2", "license_expression": "PSF-2.0"},
        {"name": "pip", "version": "24.0", "license": "MIT", "classifiers": []},
        {
            "name": "weird.pkg",
            "version": "1.0+local",
            "license": "Long text\nof a whole license",
            "classifiers": ["License :: OSI Approved :: BSD License"],
        },
        {"name": "pip", "version": "24.0", "license": "MIT"},
        {"name": "nolicense", "version": "2", "license": "UNKNOWN"},
    ],
}


def test_sbom_is_valid_cyclonedx_1_5_with_pypi_purls():
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    environment = sbom.parse_listing(LISTING)
    document = sbom.bom(environment, "127.0.0.1:5000/x", DIGEST, created=CREATED)
    validator = JsonStrictValidator(SchemaVersion.V1_5)
    assert validator.validate_str(json.dumps(document)) is None
    broken = {**document, "components": [{**document["components"][0], "type": "lib"}]}
    assert validator.validate_str(json.dumps(broken)) is not None  # the validator does check
    assert document["specVersion"] == "1.5" and document["bomFormat"] == "CycloneDX"
    assert document["metadata"]["component"]["version"] == DIGEST
    by_name = {c["name"]: c for c in document["components"]}
    assert list(by_name) == ["nolicense", "pip", "Typing_Extensions", "weird.pkg"]  # one pip
    assert by_name["Typing_Extensions"]["purl"] == "pkg:pypi/typing-extensions@4.12.2"
    assert by_name["Typing_Extensions"]["licenses"] == [{"expression": "PSF-2.0"}]
    assert by_name["pip"]["licenses"] == [{"license": {"name": "MIT"}}]
    assert by_name["weird.pkg"]["purl"] == "pkg:pypi/weird-pkg@1.0%2Blocal"
    assert by_name["weird.pkg"]["licenses"] == [{"license": {"name": "BSD License"}}]
    assert "licenses" not in by_name["nolicense"]
    # the same image gives the same serial number
    again = sbom.bom(environment, "127.0.0.1:5000/x", DIGEST, created=CREATED)
    assert again == document


# -- the OCI client against an in-memory registry ----------------------------------------------

REALM = "https://auth.fake.test/token"
PASSWORD = "s3cret-Pa55word"
_ROUTE = re.compile(
    r"^/v2/(?P<name>.+?)/(?P<kind>blobs/uploads|blobs|manifests|referrers)/(?P<rest>.*)$"
)


class FakeRegistry(BaseAdapter):
    """An OCI registry with token auth (like ghcr.io) and, optionally, the referrers API."""

    def __init__(self, *, referrers: bool = True) -> None:
        super().__init__()
        self.referrers = referrers
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.uploads: set[str] = set()
        self.faults: list[int] = []
        self.log: list[tuple[str, str]] = []
        self.token_requests: list[dict[str, list[str]]] = []

    def close(self) -> None:
        pass

    def push_image(self, name: str) -> str:
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": oci.DOCKER_MANIFEST, "x": name}
        ).encode()
        digest = oci.sha256(body)
        self.manifests[(name, digest)] = (oci.DOCKER_MANIFEST, body)
        return digest

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        self.log.append((request.method, url.path))
        if self.faults:
            return self._response(request, self.faults.pop(0))
        if request.url.startswith(REALM):
            return self._token(request, url)
        route = _ROUTE.match(url.path)
        if route is None:
            return self._response(request, 404)
        name, kind, rest = route["name"], route["kind"], route["rest"]
        push = request.method not in ("GET", "HEAD")
        granted = {f"Bearer token:{name}:True"} | (
            {f"Bearer token:{name}:False"} if not push else set()
        )
        if request.headers.get("Authorization") not in granted:  # a push token also pulls
            scope = f"repository:{name}:{'pull,push' if push else 'pull'}"
            challenge = f'Bearer realm="{REALM}",service="fake",scope="{scope}"'
            return self._response(request, 401, headers={"WWW-Authenticate": challenge})
        query = parse_qs(url.query)
        if kind == "blobs":
            if rest not in self.blobs:
                return self._response(request, 404)
            return self._response(request, 200, self.blobs[rest])
        if kind == "blobs/uploads":
            if request.method == "POST":
                upload = uuid.uuid4().hex
                self.uploads.add(upload)
                location = f"/v2/{name}/blobs/uploads/{upload}?_state=abc"
                return self._response(request, 202, headers={"Location": location})
            digest = query["digest"][0]
            if rest not in self.uploads or query.get("_state") != ["abc"]:
                return self._response(request, 404)
            if oci.sha256(request.body) != digest:
                return self._response(request, 400)
            self.blobs[digest] = request.body
            return self._response(request, 201)
        if kind == "manifests":
            if request.method == "PUT":
                body = request.body
                digest = oci.sha256(body)
                manifest = json.loads(body)
                for needed in [manifest["config"], *manifest["layers"]]:
                    if needed["digest"] not in self.blobs:
                        return self._response(request, 400)
                self.manifests[(name, rest)] = (request.headers["Content-Type"], body)
                self.manifests[(name, digest)] = (request.headers["Content-Type"], body)
                return self._response(request, 201, headers={"Docker-Content-Digest": digest})
            if (name, rest) not in self.manifests:
                return self._response(request, 404)
            media_type, body = self.manifests[(name, rest)]
            headers = {"Content-Type": media_type, "Docker-Content-Digest": oci.sha256(body)}
            return self._response(request, 200, body, headers)
        if not self.referrers:
            return self._response(request, 404)
        wanted = query.get("artifactType", [None])[0]
        found = []
        for (repo, ref), (media_type, body) in self.manifests.items():
            manifest = json.loads(body)
            refers = manifest.get("subject", {}).get("digest") == rest
            kind = manifest.get("artifactType")
            if repo == name and ref.startswith("sha256:") and refers and wanted in (None, kind):
                found.append(
                    {
                        "mediaType": media_type,
                        "digest": ref,
                        "size": len(body),
                        "artifactType": kind,
                        "annotations": manifest.get("annotations", {}),
                    }
                )
        index = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": found}
        return self._response(request, 200, json.dumps(index).encode())

    def _token(self, request, url):
        query = parse_qs(url.query)
        self.token_requests.append(query)
        expected = "Basic " + base64.b64encode(f"mlci:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self._response(request, 401)
        scope = query["scope"][0]
        _, name, actions = scope.split(":")
        token = f"token:{name}:{actions == 'pull,push'}"
        return self._response(request, 200, json.dumps({"token": token}).encode())

    def _response(self, request, status, body=b"", headers=None):
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers or {})
        response.raw = io.BytesIO(body if request.method != "HEAD" else b"")
        response.url = request.url
        response.request = request
        response.reason = {401: "Unauthorized", 404: "Not Found"}.get(status, "")
        return response


def fake_client(fake: FakeRegistry, password: str = PASSWORD) -> oci.OciClient:
    session = requests.Session()
    session.mount("https://", fake)
    return oci.OciClient(Credentials("mlci", password), session=session, max_wait=0.01)


@pytest.mark.parametrize("referrers", [True, False])
def test_attach_then_verify_with_token_auth(referrers):
    fake = FakeRegistry(referrers=referrers)
    digest = fake.push_image("owner/model")
    repository = "ghcr.example.test/owner/model"
    client = fake_client(fake)
    made = make_statement(digest=digest, repository=repository)
    pushed = attestation.attach(client, repository, digest, made)
    tag = oci.fallback_tag(digest, "att")
    assert (("owner/model", tag) in fake.manifests) is not referrers
    _, body = fake.manifests[("owner/model", pushed)]
    assert oci.sha256(body) == pushed
    assert json.loads(body)["subject"]["digest"] == digest
    assert fake.blobs[json.loads(body)["layers"][0]["digest"]] == attestation.statement_bytes(made)

    assert attestation.fetch(client, repository, digest) == made
    result = attestation.verify(client, f"{repository}@{digest}")
    assert result.ok and result.reasons == [] and result.statement == made
    where = "referrers API" if referrers else f"tag {tag}"
    assert where in next(c.detail for c in result.checks if c.name == "attestation")
    # tokens were asked for with the service and the scope, per scope, not per request
    scopes = sorted({q["scope"][0] for q in fake.token_requests})
    assert scopes == ["repository:owner/model:pull", "repository:owner/model:pull,push"]
    assert all(q["service"] == ["fake"] for q in fake.token_requests)
    assert len(fake.token_requests) == 2


def test_referrers_pick_the_latest_attestation():
    fake = FakeRegistry(referrers=True)
    digest = fake.push_image("o/m")
    client = fake_client(fake)
    first = make_statement(run_record(verdict="fail"), digest=digest)
    attestation.attach(client, "ghcr.example.test/o/m", digest, first)
    # a later one: annotations order them (seconds resolution: make it explicitly later)
    second = make_statement(digest=digest)
    payload = attestation.statement_bytes(second)
    oci.attach_artifact(
        client,
        "ghcr.example.test/o/m",
        digest,
        artifact_type=attestation.MEDIA_TYPE,
        payload=payload,
        tag_suffix="att",
        annotations={oci.CREATED: "2999-01-01T00:00:00+00:00"},
    )
    assert attestation.verify(client, f"ghcr.example.test/o/m@{digest}").ok


def test_attach_refuses_a_statement_about_another_digest():
    fake = FakeRegistry()
    digest = fake.push_image("o/m")
    with pytest.raises(attestation.AttestationError, match="not the image"):
        attestation.attach(fake_client(fake), "ghcr.example.test/o/m", digest, make_statement())


def test_attach_to_a_missing_image_fails():
    fake = FakeRegistry()
    with pytest.raises(attestation.AttestationError, match="no image"):
        attestation.attach(fake_client(fake), "ghcr.example.test/o/m", DIGEST, make_statement())


def test_wrong_password_is_a_clear_error_without_the_password():
    wrong = "wrong-Pa55word-xyz"
    fake = FakeRegistry()
    digest = fake.push_image("o/m")
    with pytest.raises(attestation.AttestationError) as info:
        attestation.verify(fake_client(fake, password=wrong), f"ghcr.example.test/o/m@{digest}")
    assert "token service" in str(info.value) and "401" in str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(fake_client(fake, password=wrong))


def test_transient_faults_are_retried_then_reported():
    fake = FakeRegistry()
    digest = fake.push_image("o/m")
    client = fake_client(fake)
    fake.faults = [503, 502]
    assert client.manifest("ghcr.example.test/o/m", digest) is not None
    fake.faults = [503] * 10
    with pytest.raises(attestation.AttestationError) as info:
        client.manifest("ghcr.example.test/o/m", digest)
    assert info.value.transient and "HTTP 503" in str(info.value)
    assert len(fake.faults) == 10 - client.attempts  # bounded


def test_a_corrupted_blob_is_refused():
    fake = FakeRegistry(referrers=False)
    digest = fake.push_image("o/m")
    client = fake_client(fake)
    made = make_statement(digest=digest, repository="ghcr.example.test/o/m")
    attestation.attach(client, "ghcr.example.test/o/m", digest, made)
    layer = oci.sha256(attestation.statement_bytes(made))
    fake.blobs[layer] = fake.blobs[layer].replace(b'"pass"', b'"PASS"')
    with pytest.raises(attestation.AttestationError, match="does not match its digest"):
        attestation.verify(client, f"ghcr.example.test/o/m@{digest}")
