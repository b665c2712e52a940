"""The docker executor: stages inside the environment image, files through the Docker API."""

from __future__ import annotations

import os
import re
import shutil
import tracemalloc
from pathlib import Path

import pytest

from mlci_action.config import load_config
from mlci_action.executors.docker import DockerExecutor
from mlci_action.executors.host import HostPool
from mlci_action.executors.tasks import Command, ModelTests, TrainEstimator
from mlci_action.hashing import file_digest
from tests.conftest import git
from tests.test_run import read_run


@pytest.fixture
def docker_project(make_project, base_image):
    project = make_project("classification")
    text = (project / "mlci.yaml").read_text() + f"\ndeploy:\n  base_image: {base_image}\n"
    (project / "mlci.yaml").write_text(text)
    git(project, "commit", "--quiet", "-am", "docker base image")
    return project


def test_container_runtime_is_a_sandbox_and_moves_only_declared_files(
    docker_project, tmp_path, shared_cache, docker_client
):
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("HOST-SECRET-4242")
    runtime = DockerExecutor(shared_cache).prepare(
        docker_project, load_config(docker_project), tmp_path / "env.log"
    )
    try:
        assert runtime.info.executor == "docker" and runtime.info.packages["scikit-learn"]
        attrs = docker_client.containers.get(runtime.container.id).attrs
        host = attrs["HostConfig"]
        assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
        assert host["Memory"] > 0 and host["PidsLimit"] == 4096 and not host["Privileged"]
        assert not host["Binds"] and [m["Type"] for m in attrs["Mounts"]] == ["volume"]
        out = tmp_path / "work" / "out.txt"
        out.parent.mkdir()
        probe = (
            "import os, socket, sys\n"
            "open(os.environ['OUT'], 'w').write(open('data/test.csv').readline())\n"
            "print('secret-readable', os.path.exists(sys.argv[1]))\n"
            "print('socket', os.path.exists('/var/run/docker.sock'))\n"
            "try:\n"
            "    socket.create_connection(('127.0.0.1', 5000), timeout=2); print('net open')\n"
            "except OSError as e:\n"
            "    print('net refused', type(e).__name__)\n"
            "try:\n"
            "    open('/etc/mlci-probe', 'w')\n"
            "except OSError:\n"
            "    print('rootfs read-only')\n"
            "open(os.path.join(os.path.dirname(os.environ['OUT']), 'undeclared.txt'), 'w')\n"
        )
        done = runtime.run(
            Command(
                argv=("python", "-c", probe, str(secret)),
                cwd=docker_project,
                env={"OUT": runtime.where(out)},
                outputs=(out,),
                log=tmp_path / "cmd.log",
            )
        )
        assert done.ok, done.output
        assert out.read_text().startswith("mean_radius,")  # came back out of the container
        assert "secret-readable False" in done.output  # an argv that names a host file: not copied
        assert "socket False" in done.output and "net refused" in done.output
        assert "rootfs read-only" in done.output
        assert not (out.parent / "undeclared.txt").exists()  # only declared outputs come back
        slow = runtime.run(Command(argv=("sleep", "30"), cwd=docker_project, timeout=1))
        assert slow.timed_out
    finally:
        runtime.close()
    assert not docker_client.containers.list(all=True, filters={"id": runtime.container.id})


def test_mlci_run_with_the_docker_executor(docker_project, mlci):
    git(docker_project, "commit", "--quiet", "--allow-empty", "-m", "candidate")
    done = mlci("run", str(docker_project), "--base", "HEAD~1", env={"MLCI_EXECUTOR": "docker"})
    assert done.returncode == 0, done.stderr
    run = read_run(docker_project)
    assert run["environment"]["executor"] == "docker"
    assert run["model_tests"]["passed"] == 5 and run["data"]["passed"]
    assert run["metrics"]["accuracy"]["candidate"] > 0.9
    assert (docker_project / ".mlci" / "out" / "models" / "candidate.skops").is_file()
    assert Path(docker_project / ".mlci" / "out" / "predictions.csv").is_file()


def test_worker_tasks_in_a_run_share_one_long_lived_worker_in_the_container(
    docker_project, tmp_path, shared_cache
):
    runtime = DockerExecutor(shared_cache).prepare(
        docker_project, load_config(docker_project), tmp_path / "env.log"
    )
    runtime = runtime.with_hosts(HostPool(tmp_path / "logs"))
    try:
        runtime.warm()
        model = tmp_path / "out" / "model.skops"
        trained = runtime.call(
            TrainEstimator(
                train_path=str(docker_project / "data" / "train.csv"),
                target="diagnosis",
                estimator="sklearn.linear_model.LogisticRegression",
                params={"max_iter": 500},
                model_path=str(model),
            ),
            cwd=docker_project,
        )
        assert model.is_file() and model.stat().st_size > 0, trained  # came back out
        probe = docker_project / "probe_tests" / "test_pid.py"
        probe.parent.mkdir()
        probe.write_text("import os\n\ndef test_pid():\n    print(f'PID={os.getpid()}')\n")
        pids = []
        for attempt in range(2):
            log = tmp_path / f"model-tests-{attempt}.log"
            outcome = runtime.call(
                ModelTests(
                    project_dir=str(docker_project),
                    path="probe_tests",
                    args=["-s"],
                    model=str(model),
                    train_path=str(docker_project / "data" / "train.csv"),
                    test_path=str(docker_project / "data" / "test.csv"),
                    target="diagnosis",
                    task="classification",
                    results_path=str(tmp_path / "out" / f"results-{attempt}.json"),
                ),
                cwd=docker_project,
                lane="project",
                log=log,
            )
            assert outcome["exitstatus"] == 0, log.read_text()
            pids += re.findall(r"PID=(\d+)", log.read_text())  # the task's log came back too
        assert len(pids) == 2 and pids[0] == pids[1] == runtime._host("project").pid
        assert runtime._host("scoring").pid != pids[0]  # the project's code: its own lane
    finally:
        runtime.close()


def test_files_stream_from_disk_and_each_content_goes_in_once(
    docker_project, tmp_path, shared_cache
):
    size = 200 * 2**20
    candidate, baseline = tmp_path / "candidate" / "data", tmp_path / "baseline" / "data"
    candidate.mkdir(parents=True)
    baseline.mkdir(parents=True)
    chunk = os.urandom(2**20)
    with (candidate / "train.csv").open("wb") as handle:
        for index in range(size // len(chunk)):
            handle.write(index.to_bytes(8, "big") + chunk[8:])
    shutil.copyfile(candidate / "train.csv", baseline / "train.csv")
    (candidate / "small.txt").write_text("candidate")
    (baseline / "small.txt").write_text("baseline")
    runtime = DockerExecutor(shared_cache).prepare(
        docker_project, load_config(docker_project), tmp_path / "env.log"
    )
    try:
        tracemalloc.start()
        try:
            runtime.copy_in([candidate])
            runtime.copy_in([baseline])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < size // 10, f"{peak / 2**20:.0f} MiB held for a {size // 2**20} MiB file"
        sent = runtime.transfer.sent_bytes
        assert size <= sent < size + 2**20, f"{sent} bytes sent for one {size}-byte content"
        inside = [runtime.where(d / "train.csv") for d in (candidate, baseline)]
        script = (
            "import hashlib, os, sys\n"
            "for p in sys.argv[1:]:\n"
            "    h = hashlib.sha256()\n"
            "    with open(p, 'rb') as f:\n"
            "        while b := f.read(1 << 20): h.update(b)\n"
            "    print(os.stat(p).st_ino, os.stat(p).st_size, h.hexdigest())\n"
        )
        code, out = runtime.container.exec_run(["python", "-c", script, *inside])
        assert code == 0, out
        first, second = out.decode().split("\n")[:2]
        assert first == second  # one inode, both paths
        assert first.split()[1:] == [str(size), file_digest(candidate / "train.csv")]
        code, out = runtime.container.exec_run(
            ["cat", *(runtime.where(d / "small.txt") for d in (candidate, baseline))]
        )
        assert out == b"candidatebaseline"  # small files: each its own copy
    finally:
        runtime.close()
