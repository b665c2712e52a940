"""The ray executor on a real two-node loopback cluster (tests/ray/conftest.py).

Cheap by design: one run on the cluster and one local run of the same project, shared by the
assertions of this module (:func:`compared`); the tests' requirements are installed on the
nodes already, so no pip environment is built except by the one test whose requirement cannot
install. The run on the cluster is the GitHub Action's, from an interpreter like the action
image's (no Ray Client, no numpy): it installs requirements/ray.txt into its own folder first
(from uv's cache here) and runs the pipeline from a child process; the other tests run
`mlci run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, git
from tests.ray.conftest import Cluster, new_project, run_mlci, stops_the_second_node

pytestmark = pytest.mark.ray


def on_cluster(cluster) -> dict[str, str]:
    return {"MLCI_EXECUTOR": "ray", "RAY_ADDRESS": cluster.address}


def read_run(project: Path) -> dict:
    return json.loads((project / ".mlci" / "out" / "run.json").read_text())


def commit_change(project: Path) -> None:
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.5"))
    git(project, "commit", "--quiet", "-am", "C 0.5")


@dataclass
class ActionRun:
    log: str
    outputs: str
    ray_env: Path
    """The folder MLCI_RAY_ENV named."""
    seconds: float


@dataclass
class Compared:
    ray: dict[str, Any]
    local: dict[str, Any]
    output: str
    action: ActionRun


def run_action(cluster: Cluster, python: Path, folder: Path, cache: Path) -> ActionRun:
    """A pull request (C 0.5) against a base whose mlci.yaml says ``executor: ray``, through
    the action's entry point as the runner starts it: the cluster's address from a secret."""
    project = new_project(folder / "repo")
    config = project / "mlci.yaml"
    text = config.read_text().replace("environment:\n", "environment:\n  executor: ray\n")
    config.write_text(text)
    (project / ".gitignore").write_text(".mlci/\n")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "the team's cluster")
    git(project, "checkout", "--quiet", "-b", "feature")
    commit_change(project)
    head, base = git(project, "rev-parse", "HEAD"), git(project, "rev-parse", "main")
    event, output, summary = folder / "event.json", folder / "output", folder / "summary"
    pull = {"number": 3, "user": {"login": "bob"}, "head": {"sha": head, "ref": "feature"},
            "base": {"sha": base, "ref": "main"}}  # fmt: skip
    repository = {"full_name": "acme/models", "default_branch": "main"}
    event.write_text(json.dumps({"number": 3, "pull_request": pull, "repository": repository}))
    output.write_text("")
    summary.write_text("")
    keep = ("PATH", "HOME", "TMPDIR", "LANG", "UV_CACHE_DIR", "UV_INDEX_URL", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env |= {
        "PYTHONPATH": str(ROOT),  # the image installs mlci; here it is the source tree
        "PYTHONDONTWRITEBYTECODE": "1",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_SHA": head,
        "GITHUB_REF": "refs/pull/3/merge",
        "GITHUB_WORKSPACE": str(project),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "INPUT_CONFIG": ".",
        "MLCI_CACHE_DIR": str(cache),
        "MLCI_RAY_ENV": str(folder / "ray-env"),
        "RAY_ADDRESS": cluster.address,
    }
    started = time.monotonic()
    done = subprocess.run(
        [str(python), str(ROOT / "entrypoint.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return ActionRun(done.stdout + done.stderr, output.read_text(), folder / "ray-env", seconds)


@pytest.fixture(scope="module")
def compared(ray_cluster, shared_cache, action_python, tmp_path_factory) -> Compared:
    """The same change run on the cluster (by the action) and locally, once for this module's
    tests."""
    folder = tmp_path_factory.mktemp("compared-ray")
    action = run_action(ray_cluster, action_python, folder, shared_cache)
    project = new_project(tmp_path_factory.mktemp("compared-local") / "repo")
    commit_change(project)
    done = run_mlci("run", str(project), "--base", "HEAD~1", cache=shared_cache)
    assert done.returncode == 0, done.stdout + done.stderr
    ray = read_run(folder / "repo")
    return Compared(ray, read_run(project), action.log + done.stdout + done.stderr, action)


def test_the_action_installs_its_ray_environment_and_runs_the_pull_request_there(
    compared, action_python
):
    script = "import importlib.util as u; print([m for m in ('ray', 'numpy') if u.find_spec(m)])"
    image = subprocess.run([str(action_python), "-c", script], capture_output=True, text=True)
    assert image.stdout.strip() == "[]"  # the action's own interpreter has neither
    action = compared.action
    assert "installing the ray executor's dependencies" in action.log
    assert "verdict<<" in action.outputs and "pass" in action.outputs
    assert compared.ray["environment"]["executor"] == "ray"
    pins = (ROOT / "requirements" / "ray.txt").read_text()
    assert (action.ray_env / ".mlci-installed").read_text() == pins
    print(f"the action's run on the cluster: {action.seconds:.1f} s")


def test_a_run_on_the_cluster_uses_the_nodes_python_when_it_has_every_requirement(compared):
    environment = compared.ray["environment"]
    assert environment["executor"] == "ray"
    assert environment["reused"] is True  # no pip environment: the nodes' Python as is
    assert environment["packages"]["scikit-learn"]


def test_both_sides_train_on_the_cluster_at_once_on_both_nodes(compared, ray_cluster):
    tasks = {task["name"]: task for task in compared.ray["cluster"]}
    assert {"train-candidate", "train-baseline", "model-tests", "data-tests"} <= set(tasks)
    # ran in the cluster's worker processes: not mlci's, and on cluster nodes
    assert all(len(task["node_id"]) == 56 and task["pid"] != os.getpid() for task in tasks.values())
    assert all(task["attempts"] == 1 for task in tasks.values())
    # one CPU per node: the two trainings, submitted together, ran on both nodes at once
    assert tasks["train-candidate"]["node_id"] != tasks["train-baseline"]["node_id"]
    assert compared.ray["model_tests"]["passed"] > 0
    assert compared.ray["model_tests"]["failed"] == 0


def test_the_cluster_gives_the_local_verdict_and_metrics(compared):
    ray, local = compared.ray, compared.local
    assert ray["verdict"] == local["verdict"]
    assert set(ray["metrics"]) == set(local["metrics"])
    for name, metric in local["metrics"].items():
        assert ray["metrics"][name]["candidate"] == pytest.approx(metric["candidate"], rel=1e-9)
        assert ray["metrics"][name]["baseline"] == pytest.approx(metric["baseline"], rel=1e-9)
    assert ray["data"]["checks"] == local["data"]["checks"]


def test_a_requirement_that_does_not_exist_fails_naming_it(ray_cluster, make_project, mlci):
    """The one test that builds a pip environment on the cluster (a copy of the nodes'
    virtualenv, then pip), and it fails."""
    project = make_project("classification")
    requirements = project / "requirements.txt"
    requirements.write_text(requirements.read_text() + "mlci-no-such-package-x7q==1.0\n")
    git(project, "commit", "--quiet", "-am", "a requirement nobody publishes")
    done = mlci("run", str(project), env=on_cluster(ray_cluster))
    assert done.returncode == 1, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "runtime environment could not be built" in output
    assert "mlci-no-such-package-x7q" in output
    run = read_run(project)
    assert run["stages"]["environment"]["status"] == "failed"
    log = (project / ".mlci" / "out" / "logs" / "environment.log").read_text()
    assert "not installed on every node: mlci-no-such-package-x7q==1.0" in log


SLOW_TRAINING = """\
import os, time
from pathlib import Path
Path({marker!r}).write_text(str(os.getpid()))
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_terminating_mlci_run_cancels_its_task_on_the_cluster(
    ray_cluster, make_project, cache_env, tmp_path
):
    """The loopback cluster shares this machine, so the training process can be watched."""
    project = make_project("classification")
    marker = tmp_path / "training-pid"
    (project / "train.py").write_text(SLOW_TRAINING.format(marker=str(marker)))
    git(project, "commit", "--quiet", "-am", "training that never ends")
    env = {**os.environ, **cache_env, "NO_COLOR": "1", **on_cluster(ray_cluster)}
    mlci = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "mlci"), "run", str(project)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not marker.is_file() and time.monotonic() < deadline and mlci.poll() is None:
            time.sleep(0.5)
        assert marker.is_file(), mlci.communicate(timeout=60)[0] if mlci.poll() is not None else ""
        training = int(marker.read_text())
        mlci.send_signal(signal.SIGTERM)
        output, _ = mlci.communicate(timeout=120)
        assert mlci.returncode != 0, output
        deadline = time.monotonic() + 60
        while _alive(training) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _alive(training), "the training process outlived the cancelled run"
    finally:
        if mlci.poll() is None:
            mlci.kill()
            mlci.wait()


TWO_SLOW_TRAININGS = """\
import os, time
from pathlib import Path
_started = Path({markers!r})
_first = len(list(_started.iterdir())) < 2  # the retry of a lost training does not wait
(_started / str(os.getpid())).write_text("")
if _first:
    time.sleep(20)
"""


@stops_the_second_node
def test_a_training_on_a_lost_node_runs_again_on_the_other_and_the_report_says_so(
    ray_cluster, make_project, cache_env, tmp_path
):
    """Both trainings start, one per node; the second node stops under one of them; that one
    runs again on the head and the run finishes. Runs last in the session (the node is gone)."""
    markers = tmp_path / "started"
    markers.mkdir()
    project = make_project("classification")
    train = project / "train.py"
    train.write_text(TWO_SLOW_TRAININGS.format(markers=str(markers)) + train.read_text())
    git(project, "commit", "--quiet", "-am", "trainings that take a while")
    commit_change(project)
    env = {**os.environ, **cache_env, **on_cluster(ray_cluster), "NO_COLOR": "1"}
    run = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "mlci"), "run", str(project), "--base", "HEAD~1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600
        while len(list(markers.iterdir())) < 2 and time.monotonic() < deadline:
            assert run.poll() is None, run.communicate()[0]
            time.sleep(0.5)
        ray_cluster.worker.stop()
        output, _ = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, output
    record = read_run(project)
    trainings = [task for task in record["cluster"] if task["name"].startswith("train-")]
    assert sorted(task["attempts"] for task in trainings) == [1, 2], trainings
    again = next(task for task in trainings if task["attempts"] == 2)
    assert "lost" in again["notes"][0]
    # it ran again on the node left, the one the other training ran on
    assert again["node_id"] == next(task for task in trainings if task is not again)["node_id"]
    assert "ran 2 times on the cluster" in record["stages"]["train"]["reason"]
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert "ran 2 times on the cluster" in report
