"""Images end to end: environment image, serving image, smoke test, push, promote, champion.

Real Docker engine, real base image, real authenticated registry (scripts/services.sh).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlci_action.layout import REFERENCE_IN_IMAGE
from mlci_action.report.escape import md
from mlci_action.stages.package import free_port
from tests.conftest import git
from tests.test_run import commit_change, read_run


@pytest.fixture
def image_project(make_project, base_image, registry):
    """The classification example, deploying to a fresh repository in the local registry."""

    def make(*, with_registry: bool = True, name: str = "repo") -> Path:
        project = make_project("classification", name=name)
        repo = f"mlci-test/bc-{uuid.uuid4().hex[:8]}"
        deploy = f"\ndeploy:\n  base_image: {base_image}\n"
        if with_registry:
            deploy += f"  registry: {registry.host}\n  image: {repo}\n  tags: [latest]\n"
        (project / "mlci.yaml").write_text((project / "mlci.yaml").read_text() + deploy)
        git(project, "commit", "--quiet", "-am", "deploy settings")
        return project

    return make


def registry_env(registry, password: str | None = None) -> dict[str, str]:
    return {
        "MLCI_REGISTRY_USERNAME": registry.username,
        "MLCI_REGISTRY_PASSWORD": password or registry.password,
    }


def registry_tags(registry, repository: str) -> list[str]:
    request = urllib.request.Request(f"http://{registry.host}/v2/{repository}/tags/list")
    token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return sorted(json.load(response).get("tags") or [])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


def test_package_without_registry_saves_an_archive_and_smoke_tests(
    image_project, mlci, docker_client, tmp_path
):
    project = image_project(with_registry=False)
    done = mlci("run", str(project), "--package")
    assert done.returncode == 0, done.stderr
    run = read_run(project)
    assert run["stages"]["package"]["status"] == "passed"
    smoke = run["smoke_test"]
    assert smoke["rows"] == 114 and smoke["mismatches"] == 0
    assert (
        smoke["p50_ms"] > 0 and smoke["p99_ms"] >= smoke["p50_ms"] and smoke["batch_rows_per_s"] > 0
    )
    image = run["image"]
    assert_monitor_reads_the_reference_in_the_image(mlci, docker_client, project, image["tag"], run)
    assert image["model_layer_bytes"] > 0 and image["size_bytes"] > image["environment_bytes"] > 0
    assert run["deployment"]["archive"] == "image.tar" and run["deployment"]["pushed"] is False
    archive = project / ".mlci" / "out" / "image.tar"
    assert archive.stat().st_size > image["model_layer_bytes"]
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert "### Serving image" in report and "docker load" in report and "p99" in report
    # the build's output is in its log, never on the console
    build_log = (project / ".mlci" / "out" / "logs" / "package.log").read_text()
    assert "Step 1/" in build_log and "COPY model.skops" in build_log
    assert "Step " not in done.stderr and "Successfully built" not in done.stderr
    assert_serves_on_port_from_environment(docker_client, image["tag"], project, tmp_path)
    assert_the_image_logs_and_monitor_sees_a_shift(mlci, docker_client, image["tag"], project)
    labels = docker_client.images.get(image["tag"]).labels
    assert labels["org.opencontainers.image.revision"] == git(project, "rev-parse", "HEAD")
    assert (
        json.loads(labels["org.mlci.metrics"])["accuracy"]
        == run["metrics"]["accuracy"]["candidate"]
    )

    # a model-only change: same environment image, and the only new layer is the model
    commit_change(project, "params.yaml", "C: 1.0", "C: 0.7")
    again = mlci("run", str(project), "--package")
    assert again.returncode == 0, again.stderr
    second = read_run(project)["image"]
    assert second["environment_reused"] is True and second["tag"] != image["tag"]
    old_layers = docker_client.images.get(image["tag"]).attrs["RootFS"]["Layers"]
    new_layers = docker_client.images.get(second["tag"]).attrs["RootFS"]["Layers"]
    assert new_layers[:-1] == old_layers[:-1] and new_layers[-1] != old_layers[-1]


def assert_monitor_reads_the_reference_in_the_image(
    mlci, docker_client, project: Path, tag: str, run: dict
) -> None:
    """The serving image holds the run's reference profile where MLCI_REFERENCE says, and
    `mlci monitor --reference IMAGE` judges a log against it (this test's image: no new build)."""
    env = docker_client.images.get(tag).attrs["Config"]["Env"]
    assert f"MLCI_REFERENCE={REFERENCE_IN_IMAGE}" in env
    test = pd.read_csv(project / "data" / "test.csv")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    log = project.parent / "inference-log"
    log.mkdir()
    with (log / "inference-20261128T110000-1-0.jsonl").open("w", encoding="utf-8") as handle:
        for index, row in enumerate(test.drop(columns="diagnosis").to_dict(orient="records")):
            record = {"id": f"r{index}", "row": 0, "time": now, "features": row}
            record["prediction"] = int(test["diagnosis"][index])
            handle.write(json.dumps(record) + "\n")
    out = project.parent / "monitor-out"
    done = mlci(
        "monitor", "--config", str(project), "--reference", tag, "--log", str(log),
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # 114 rows: fewer than min_rows, never a pass
    record = json.loads((out / "run.json").read_text())
    assert record["reference"] == f"{tag}:{REFERENCE_IN_IMAGE}"
    assert record["verdict"] == "not_enough_traffic" and record["counts"]["rows"] == len(test)
    assert record["reference_rows"] == run["reference_profile"]["rows"]
    assert {item["name"] for item in record["drift"]} == set(run["reference_profile"]["features"])


def assert_serves_on_port_from_environment(
    docker_client, tag: str, project: Path, tmp_path: Path
) -> None:
    """`docker run -e PORT=N IMAGE`, as the README says: the server listens on N; with
    MLCI_LOG_PATH on a mounted directory it logs each request there (issue 12)."""
    logs = tmp_path / "served-log"  # (inference-log is the monitor check's)
    environment = {"WORKERS": "2", "MLCI_IMAGE_DIGEST": "sha256:" + "0" * 64}
    with serving(docker_client, tag, logs, environment) as (url, container):
        logs_text = container.logs().decode()
        assert f":{url.rsplit(':', 1)[1]}" in logs_text  # the port it was given
        assert "2 server process(es) (WORKERS)" in logs_text
        rows = pd.read_csv(project / "data" / "test.csv").drop(columns=["diagnosis"]).head(3)
        request = urllib.request.Request(
            f"{url}/predict",
            data=rows.to_json(orient="records").encode(),
            headers={"X-Request-Id": "docker-1"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["X-Request-Id"] == "docker-1"
    records = [
        json.loads(line) for path in logs.glob("*.jsonl") for line in path.read_text().splitlines()
    ]
    assert [(r["id"], r["row"]) for r in records] == [
        ("docker-1", 0),
        ("docker-1", 1),
        ("docker-1", 2),
    ]
    assert records[0]["image_digest"] == "sha256:" + "0" * 64
    assert records[0]["features"] == rows.iloc[0].to_dict()


SHIFTED = "mean_texture"
"""The feature the shifted traffic moves (by about two training standard deviations)."""


@contextmanager
def serving(
    docker_client, tag: str, logs: Path, environment: dict[str, str] | None = None
) -> Iterator[tuple[str, Any]]:
    """The serving image on a free port (host network: loopback only), logging every request
    into ``logs``: its base URL and container. Stopped with SIGTERM on exit, so the open log
    file is finished."""
    port = free_port()
    logs.mkdir()
    logs.chmod(0o777)  # whichever user the image runs as
    container = docker_client.containers.run(
        tag,
        detach=True,
        network_mode="host",  # -p N:N is the same on a bridge
        environment={"PORT": str(port), "MLCI_LOG_PATH": "/var/log/mlci", **(environment or {})},
        volumes={str(logs): {"bind": "/var/log/mlci", "mode": "rw"}},
        labels={"org.mlci.smoke-test": "1"},
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5):
                    break
            except OSError:
                container.reload()
                assert container.status == "running", container.logs().decode()
                assert time.monotonic() < deadline, container.logs().decode()
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", container
        container.stop(timeout=30)
    finally:
        container.remove(force=True)


def send(url: str, rows: pd.DataFrame, prefix: str) -> list[int]:
    """``rows`` to /predict in requests of 50, ids ``prefix-N``; the predictions."""
    predictions: list[int] = []
    for start in range(0, len(rows), 50):
        request = urllib.request.Request(
            f"{url}/predict",
            data=rows.iloc[start : start + 50].to_json(orient="records").encode(),
            headers={"X-Request-Id": f"{prefix}-{start // 50}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions += json.load(response)["predictions"]
    return predictions


def drift_gauges(url: str, rows: int) -> dict[str, float]:
    """The /metrics PSI per feature once the drift window holds ``rows`` rows."""
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            text = response.read().decode()
        window = [line for line in text.splitlines() if line.startswith("mlci_drift_window_rows")]
        if window and float(window[0].split()[-1]) >= rows:
            break
        assert time.monotonic() < deadline, text[-3000:]
        time.sleep(0.5)
    gauges = {}
    for line in text.splitlines():
        if line.startswith("mlci_feature_drift_psi{"):
            feature = line.split('feature="', 1)[1].split('"', 1)[0]
            gauges[feature] = float(line.split()[-1])
    return gauges


def assert_the_image_logs_and_monitor_sees_a_shift(
    mlci, docker_client, tag: str, project: Path
) -> None:
    """Issue 12 with the real serving image: traffic like the training data, then the same
    traffic with one feature moved. The log holds every request with its id, /metrics shows
    the moved feature's PSI over 0.2 and the others under it, and `mlci monitor` passes the
    first window (with labels: live accuracy whose interval holds the true one) and fails the
    second, naming the feature."""
    train = pd.read_csv(project / "data" / "train.csv")
    live = train.sample(n=600, replace=True, random_state=0).reset_index(drop=True)
    truth = live.pop("diagnosis")
    shifted = live.copy()
    shifted[SHIFTED] = shifted[SHIFTED] + 2 * train[SHIFTED].std()
    verdicts = {}
    for name, rows in (("healthy", live), ("shifted", shifted)):
        logs = project.parent / f"log-{name}"
        with serving(docker_client, tag, logs) as (url, _):
            predictions = send(url, rows, name)
            gauges = drift_gauges(url, len(rows))
        assert set(gauges) == set(rows.columns)
        moved = {feature for feature, psi in gauges.items() if psi > 0.2}
        assert moved == (set() if name == "healthy" else {SHIFTED}), gauges
        records = [
            json.loads(line)
            for path in logs.glob("*.jsonl")
            for line in path.read_text().splitlines()
        ]
        assert sorted((r["id"], r["row"]) for r in records) == sorted(
            (f"{name}-{i // 50}", i % 50) for i in range(len(rows))
        )
        labels = project.parent / f"labels-{name}.csv"
        pd.DataFrame(
            {
                "id": [f"{name}-{i // 50}" for i in range(len(rows))],
                "row": [i % 50 for i in range(len(rows))],
                "diagnosis": truth,
            }
        ).to_csv(labels, index=False)
        out = project.parent / f"monitor-{name}"
        done = mlci(
            "monitor", "--config", str(project), "--reference", tag, "--log", str(logs),
            "--labels", str(labels), "--out", str(out),
        )  # fmt: skip
        record = json.loads((out / "run.json").read_text())
        verdicts[name] = (done.returncode, record["verdict"])
        if name == "healthy":
            accuracy = next(m for m in record["performance"] if m["name"] == "accuracy")
            real = float((pd.Series(predictions) == truth).mean())
            assert accuracy["estimate"] is False and accuracy["rows"] == len(rows)
            assert accuracy["value"] == pytest.approx(real)
            assert accuracy["low"] <= real <= accuracy["high"]
        else:
            drifted = {b["name"] for b in record["breaches"] if b["kind"] == "drift"}
            assert drifted == {SHIFTED}, record["breaches"]
            assert md(SHIFTED) in (out / "report.md").read_text()
    assert verdicts == {"healthy": (0, "healthy"), "shifted": (1, "breached")}


def test_push_with_auth_then_promote_then_champion_baseline(
    image_project, mlci, docker_client, registry
):
    project = image_project()
    config_repo = next(
        line.split(":", 1)[1].strip()
        for line in (project / "mlci.yaml").read_text().splitlines()
        if line.startswith("  image:")
    )
    repository = f"{registry.host}/{config_repo}"
    done = mlci("run", str(project), "--push", env=registry_env(registry))
    assert done.returncode == 0, done.stderr
    assert registry.password not in done.stderr + done.stdout
    run = read_run(project)
    deployment = run["deployment"]
    sha = git(project, "rev-parse", "HEAD")
    assert deployment["pushed"] is True and deployment["digest"].startswith("sha256:")
    assert deployment["tags"][:2] == [sha, sha[:12]] and deployment["tags"][-1] == "latest"
    assert deployment["tags"][2].startswith("key-")  # its content key: a merge finds it
    hexdigest = deployment["digest"].split(":", 1)[1]
    attached = {f"sha256-{hexdigest}.att", f"sha256-{hexdigest}.sbom"}  # statement and SBOM
    assert registry_tags(registry, config_repo) == sorted([*deployment["tags"], *attached])
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert deployment["digest"] in report and registry.password not in report
    # the push's output is in its log, not on the console: one line per stage there
    push_log = (project / ".mlci" / "out" / "logs" / "push.log").read_text()
    assert "Pushed" in push_log or "already exists" in push_log or "Mounted" in push_log
    assert not any(word in done.stderr for word in ("Preparing", "Pushed", "Waiting"))
    assert sum(line.startswith("✔ deploy") for line in done.stderr.splitlines()) == 1

    # pull by digest from the registry alone and read what the model is and how good it was
    reference = f"{repository}@{deployment['digest']}"
    docker_client.images.remove(run["image"]["tag"], force=True)
    for tag in deployment["tags"]:
        docker_client.images.remove(f"{repository}:{tag}", force=True)
    docker_client.images.pull(
        repository, tag=deployment["digest"], auth_config=registry.auth_config
    )
    labels = docker_client.images.get(reference).labels
    assert labels["org.opencontainers.image.revision"] == sha
    assert labels["org.opencontainers.image.title"] == "breast-cancer"
    assert set(json.loads(labels["org.mlci.metrics"])) == {"accuracy", "f1", "roc_auc", "log_loss"}
    assert len(labels["org.mlci.data-hash"]) == 40 and len(labels["org.mlci.config-hash"]) == 40

    # promote by digest: the production tag moves, nothing is rebuilt
    promoted = mlci("promote", reference, "--tag", "production", env=registry_env(registry))
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.strip() == reference
    assert "production" in registry_tags(registry, config_repo)

    # champion/challenger: the next change is compared with the model in production
    commit_change(project, "params.yaml", "C: 1.0", "C: 0.3")
    challenger = mlci("run", str(project), "--base", "registry", env=registry_env(registry))
    assert challenger.returncode == 0, challenger.stderr
    run = read_run(project)
    assert run["baseline"]["ref"] == f"registry {repository}:production"
    assert run["baseline"]["sha"] == deployment["digest"]
    assert run["metrics"]["accuracy"]["baseline"] is not None

    # the nightly re-evaluation: the champion itself, in its own image, on today's data;
    # the working tree's params changed (C: 0.3), so a retrained model would score otherwise
    nightly = mlci(
        "run", str(project), "--champion", env={**registry_env(registry), "MLCI_EXECUTOR": "docker"}
    )
    assert nightly.returncode == 0, nightly.stderr
    run = read_run(project)
    assert run["mode"] == "champion" and run["baseline"] is None
    assert (run["candidate"]["ref"], run["candidate"]["sha"]) == (
        f"registry {repository}:production",
        deployment["digest"],
    )
    assert "not trained" in run["stages"]["train"]["reason"]
    assert "champion's own image" in run["stages"]["environment"]["reason"]
    assert run["deployment"] is None and run["image"] is None
    for metric, value in json.loads(labels["org.mlci.metrics"]).items():
        assert run["metrics"][metric]["candidate"] == pytest.approx(value, rel=1e-9), metric
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert "Champion re-evaluated on the current data and tests" in report


def test_a_cache_hit_packages_and_pushes_this_commit(image_project, mlci, registry, docker_client):
    project = image_project()
    (project / ".gitignore").write_text("__pycache__/\n")  # bytecode is not a change
    git(project, "add", ".gitignore")
    git(project, "commit", "--quiet", "-m", "ignore bytecode")
    config_repo = next(
        line.split(":", 1)[1].strip()
        for line in (project / "mlci.yaml").read_text().splitlines()
        if line.startswith("  image:")
    )
    # a run that did not package left no smoke cases: a run that pushes cannot reuse it
    plain = mlci("run", str(project))
    assert plain.returncode == 0, plain.stderr
    first = mlci("run", str(project), "--push", env=registry_env(registry))
    assert first.returncode == 0, first.stderr
    assert "results reused" not in first.stderr and read_run(project)["cache"]["hit"] is False
    first_sha = git(project, "rev-parse", "HEAD")

    # a commit that changes nothing the results depend on: a hit, and still this commit's
    # image is built, smoke-tested and pushed under this commit's tags
    git(project, "commit", "--quiet", "--allow-empty", "-m", "nothing changed")
    sha = git(project, "rev-parse", "HEAD")
    second = mlci("run", str(project), "--push", env=registry_env(registry))
    assert second.returncode == 0, second.stderr
    assert "results reused from the cache" in second.stderr
    run = read_run(project)
    assert run["cache"]["hit"] is True and run["candidate"]["sha"] == sha
    assert run["stages"]["train"]["status"] == "cached"
    assert run["stages"]["package"]["status"] == run["stages"]["deploy"]["status"] == "passed"
    assert run["smoke_test"]["rows"] > 0 and run["smoke_test"]["mismatches"] == 0
    deployment = run["deployment"]
    tags = deployment["tags"]
    assert deployment["pushed"] is True and tags[:2] == [sha, sha[:12]]
    assert tags[2].startswith("key-") and tags[3:] == ["latest"]
    pushed = {
        t for t in registry_tags(registry, config_repo) if not t.startswith(("sha256-", "key-"))
    }
    assert pushed == {first_sha, first_sha[:12], sha, sha[:12], "latest"}
    labels = docker_client.images.get(run["image"]["tag"]).labels
    assert labels["org.opencontainers.image.revision"] == sha
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert deployment["digest"] in report and "reused from cache" in report


def test_champion_needs_a_registry(image_project, mlci):
    project = image_project(with_registry=False)
    done = mlci("run", str(project), "--champion", env={"MLCI_EXECUTOR": "docker"})
    assert done.returncode == 2, done.stderr
    assert "--champion) needs deploy.registry in mlci.yaml" in done.stderr
    assert not (project / ".mlci" / "out" / "run.json").exists()


def test_wrong_password_fails_clearly_and_moves_nothing(image_project, mlci, registry):
    project = image_project()
    repo = next(
        line.split(":", 1)[1].strip()
        for line in (project / "mlci.yaml").read_text().splitlines()
        if line.startswith("  image:")
    )
    secret = "definitely-wrong-password-123"
    done = mlci("run", str(project), "--push", env=registry_env(registry, secret))
    assert done.returncode == 1
    run = read_run(project)
    # the baseline could not be asked for (auth): fail closed before anything is built
    source = run["stages"]["source"]
    assert source["status"] == "failed" and "could not ask the registry" in source["reason"]
    assert (
        "unauthorized" in source["reason"].lower() or "authentication" in source["reason"].lower()
    )
    everything = done.stderr + done.stdout + (project / ".mlci" / "out" / "report.md").read_text()
    everything += (project / ".mlci" / "out" / "run.json").read_text()
    assert secret not in everything
    assert registry_tags(registry, repo) == []  # no tag, moving or not


def test_registry_down_is_retried_then_a_clear_error(image_project, mlci):
    project = image_project()
    text = (project / "mlci.yaml").read_text().replace("127.0.0.1:5000", "127.0.0.1:5999")
    (project / "mlci.yaml").write_text(text)
    git(project, "commit", "--quiet", "-am", "registry that is down")
    done = mlci(
        "run",
        str(project),
        "--push",
        env={"MLCI_REGISTRY_USERNAME": "u", "MLCI_REGISTRY_PASSWORD": "p"},
    )
    assert done.returncode == 1
    run = read_run(project)
    # fail closed: "could not ask" is not "no champion yet"; nothing is trained or pushed
    reason = run["stages"]["source"]["reason"]
    assert "could not ask the registry for the baseline 127.0.0.1:5999/" in reason
    assert "connection refused" in reason.lower()
    assert run["stages"]["train"]["status"] == "skipped" and run["deployment"] is None


@contextmanager
def dropping_proxy():
    """A port on 127.0.0.1 that accepts every connection and closes it at once."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(32)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            with suppress(OSError):
                conn, _ = server.accept()
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_a_registry_that_drops_connections_fails_closed(image_project, mlci):
    project = image_project()
    with dropping_proxy() as port:
        text = (project / "mlci.yaml").read_text().replace("127.0.0.1:5000", f"127.0.0.1:{port}")
        (project / "mlci.yaml").write_text(text)
        git(project, "commit", "--quiet", "-am", "a registry behind a proxy that drops")
        done = mlci(
            "run",
            str(project),
            "--push",
            env={"MLCI_REGISTRY_USERNAME": "u", "MLCI_REGISTRY_PASSWORD": "p"},
        )
    assert done.returncode == 1
    run = read_run(project)
    reason = run["stages"]["source"]["reason"]
    assert f"could not ask the registry for the baseline 127.0.0.1:{port}/" in reason
    assert run["stages"]["train"]["status"] == "skipped" and run["deployment"] is None


def test_allow_dirty_pushes_a_wt_tag_and_moves_nothing(image_project, mlci, registry):
    project = image_project()
    repo = next(
        line.split(":", 1)[1].strip()
        for line in (project / "mlci.yaml").read_text().splitlines()
        if line.startswith("  image:")
    )
    (project / "params.yaml").write_text((project / "params.yaml").read_text() + "# tweak\n")
    done = mlci("run", str(project), "--push", "--allow-dirty", env=registry_env(registry))
    assert done.returncode == 0, done.stderr
    tags = [t for t in registry_tags(registry, repo) if not t.startswith("sha256-")]
    assert len(tags) == 1 and tags[0].startswith("wt-") and "latest" not in tags
    assert read_run(project)["deployment"]["tags"] == tags


def test_build_failure_shows_the_failing_step(image_project, mlci, base_image):
    project = image_project(with_registry=False)
    (project / "Dockerfile").write_text(
        f"FROM {base_image}\nRUN echo installing no-such-package-mlci-test && exit 7\n"
    )
    (project / "mlci.yaml").write_text(
        (project / "mlci.yaml").read_text() + "  dockerfile: Dockerfile\n"
    )
    done = mlci("run", str(project), "--package")
    run = read_run(project)
    assert run["stages"]["package"]["status"] == "failed", done.stderr
    assert "image build failed at Step" in run["stages"]["package"]["reason"]
    assert "no-such-package-mlci-test" in run["stages"]["package"]["log_tail"]
    assert "returned a non-zero code: 7" in run["stages"]["package"]["reason"]
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert "<summary>Log tail: package</summary>" in report


def test_unreachable_daemon_names_docker_host(make_project, mlci):
    project = make_project("classification")
    done = mlci(
        "run", str(project), "--package", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    )
    assert done.returncode == 2
    assert (
        "DOCKER_HOST=unix:///nonexistent/docker.sock" in done.stderr
        and "Traceback" not in done.stderr
    )
