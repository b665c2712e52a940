"""The docker executor: stages inside the environment image, files through the Docker API."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci_action.config import load_config
from mlci_action.executors.docker import DockerExecutor
from tests.conftest import git
from tests.test_run import read_run


@pytest.fixture
def docker_project(make_project, base_image):
    project = make_project("classification")
    text = (project / "mlci.yaml").read_text() + f"\ndeploy:\n  base_image: {base_image}\n"
    (project / "mlci.yaml").write_text(text)
    git(project, "commit", "--quiet", "-am", "docker base image")
    return project


def test_container_runtime_copies_through_the_api(
    docker_project, tmp_path, shared_cache, docker_client
):
    runtime = DockerExecutor(shared_cache).prepare(
        docker_project, load_config(docker_project), tmp_path / "env.log"
    )
    try:
        assert runtime.info.executor == "docker" and runtime.info.packages["scikit-learn"]
        attrs = docker_client.containers.get(runtime.container.id).attrs
        assert attrs["Mounts"] == [] and attrs["HostConfig"]["NetworkMode"] == "host"
        out = tmp_path / "work" / "out.txt"
        out.parent.mkdir()
        done = runtime.run(
            [
                "python",
                "-c",
                "import os, sys; open(os.environ['OUT'], 'w').write(open('data/test.csv').readline())",
            ],
            cwd=docker_project,
            env={"OUT": str(out)},
            log=tmp_path / "cmd.log",
        )
        assert done.ok, done.output
        assert out.read_text().startswith("mean_radius,")  # came back out of the container
        slow = runtime.run(["sleep", "30"], cwd=docker_project, timeout=1)
        assert slow.timed_out
    finally:
        runtime.close()


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
