"""The docker executor: stages inside the environment image, files through the Docker API."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci_action.config import load_config
from mlci_action.executors.docker import DockerExecutor
from mlci_action.executors.tasks import Command
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
