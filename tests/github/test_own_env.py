"""The action image stays lean: what a monitoring run or a run on a Ray cluster needs beyond it
is installed (pinned, hashed) only when such a run needs it, and runs in a child process; the
monitor's child never sees the action's inputs (the GitHub token, the registry password)."""

from __future__ import annotations

import io
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from mlci_action.config import load_config
from mlci_action.errors import InputError
from mlci_action.executors.local import uv_bin
from mlci_action.github import own_env
from mlci_action.github.action import runs_on_ray, trusted_settings
from mlci_action.github.context import load_event
from mlci_action.github.monitor import MonitorChild, monitor_command, runner
from mlci_action.github.own_env import MONITOR, RAY, OwnEnvironment, Requirements
from tests.conftest import ROOT, git

SECRET = "ghs_inputT0kenThatMustNotReachTheMonitor0"
DISTRIBUTION = {"sklearn": "scikit-learn"}
"""Where a module's distribution has another name."""


def pinned(path: Path) -> dict[str, str]:
    """name -> version of a compiled requirements file whose every pin carries hashes."""
    text = path.read_text()
    pins = dict(re.findall(r"^([\w.-]+)==([\w.]+) \\$\n\s+--hash=sha256:", text, re.M))
    assert len(pins) == len(re.findall(r"^[\w.-]+==", text, re.M)), "a pin without hashes"
    return pins


@pytest.mark.parametrize("requirements", [MONITOR, RAY], ids=lambda r: r.name)
def test_the_action_image_pins_each_set_but_does_not_install_it(requirements):
    image = {
        line.split("==")[0]
        for line in (ROOT / "requirements" / "action.txt").read_text().splitlines()
        if "==" in line
    }
    heavy = {DISTRIBUTION.get(m, m) for m in requirements.modules}
    assert not heavy & image
    pins = pinned(requirements.in_source)
    assert heavy <= set(pins)  # every module's distribution pinned to a version, with hashes
    for name, version in pins.items():  # what the image has stays at the image's version
        if name in image:
            assert f"{name}=={version}" in (ROOT / "requirements" / "action.txt").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"COPY requirements/{requirements.name}.txt {requirements.in_image}" in dockerfile


def test_the_ray_pins_are_the_ray_of_mlcis_ray_extra():
    """Ray Client needs the cluster's exact Ray version; the action's must be the one
    `pip install 'mlci[ray]'` installs (and the test cluster runs)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (extra,) = (Requirement(r) for r in pyproject["project"]["optional-dependencies"]["ray"])
    assert extra.name == "ray" and "client" in extra.extras
    (version,) = (spec.version for spec in extra.specifier if spec.operator == "==")
    assert pinned(RAY.in_source)["ray"] == version
    assert f"ray[client]=={version}" in (ROOT / "requirements" / "ray.in").read_text()
    # the client's own dependencies (Ray Client talks gRPC) are pinned too
    assert "grpcio" in pinned(RAY.in_source)


def test_where_the_modules_import_the_work_runs_in_process():
    assert own_env.missing(MONITOR.modules) == []  # the development install has them all
    assert own_env.missing(RAY.modules) == []
    assert own_env.own_environment(RAY, {}, io.StringIO()) is None
    assert runner({}, io.StringIO()) is monitor_command
    assert own_env.missing(("numpy", "no_such_module_mlci")) == ["no_such_module_mlci"]


def own(tmp_path, pins, environ=None, requirements=MONITOR):
    return OwnEnvironment(
        requirements, tmp_path / "env", pins, uv_bin(), environ or {}, io.StringIO()
    )


def test_the_monitors_child_gets_the_environment_without_the_actions_inputs(tmp_path):
    environ = {
        "INPUT_GITHUB-TOKEN": SECRET,
        "INPUT_REGISTRY-PASSWORD": SECRET,
        "AWS_PROFILE": "logs-reader",
        "PATH": "/usr/bin",
    }
    child = own(tmp_path, tmp_path / "r.txt", environ).child_environment()
    assert child == {"AWS_PROFILE": "logs-reader", "PATH": "/usr/bin"}
    assert SECRET not in repr(child)
    # the Ray set's child is the action itself: it posts the comment and may push, with the
    # inputs; the project's code runs on the cluster, which gets environment.pass_env only
    action = own(tmp_path, tmp_path / "r.txt", environ, RAY).child_environment()
    assert action == environ


def test_an_installed_folder_is_used_without_installing_again(tmp_path):
    requirements = tmp_path / "monitor.txt"
    requirements.write_text("# nothing to install\n")
    environment = own(tmp_path, requirements, {"PATH": "/usr/bin:/bin"})
    environment.target.mkdir()
    (environment.target / ".mlci-installed").write_text(requirements.read_text())
    environment.install()  # no uv call: it would fail on this folder's missing pins
    # the monitor itself, as a child process, with the folder on its path
    code = MonitorChild(environment)(["--since", "not-a-duration", "--log", str(tmp_path)])
    assert code == 2


def test_the_child_has_the_folder_on_its_path_and_knows_its_set(tmp_path):
    requirements = tmp_path / "ray.txt"
    requirements.write_text("# nothing to install\n")
    environment = own(tmp_path, requirements, {"PATH": "/usr/bin:/bin"}, RAY)
    environment.target.mkdir()
    (environment.target / ".mlci-installed").write_text(requirements.read_text())
    (environment.target / "only_in_the_folder.py").write_text("WHERE = 'the ray folder'\n")
    script = "import os, only_in_the_folder as m; print(m.WHERE, os.environ['MLCI_OWN_ENV'])"
    assert environment.run(["-c", script]) == 0
    assert environment.out.getvalue().strip() == "the ray folder ray"  # type: ignore[attr-defined]


def test_a_child_whose_modules_still_do_not_import_fails_instead_of_starting_another():
    broken = Requirements(
        "ray", "the ray executor's dependencies", ("no_such_module_mlci",), "MLCI_RAY_ENV", True, ""
    )
    with pytest.raises(InputError) as failed:
        own_env.own_environment(broken, {"MLCI_OWN_ENV": "ray"}, io.StringIO())
    assert "no_such_module_mlci does not import" in failed.value.message
    assert "MLCI_RAY_ENV" in (failed.value.hint or "")


def test_a_failed_install_is_unusable_input_naming_the_file(tmp_path):
    requirements = tmp_path / "ray.txt"
    wheel = tmp_path / "missing-1.0-py3-none-any.whl"
    requirements.write_text(f"missing @ file://{wheel} --hash=sha256:{'0' * 64}\n")
    with pytest.raises(InputError) as failed:
        own(tmp_path, requirements, requirements=RAY).install()
    assert str(requirements) in failed.value.message
    assert "ray executor" in failed.value.message
    assert "PyPI" in (failed.value.hint or "") and "executor: ray" in (failed.value.hint or "")
    assert not (tmp_path / "env" / ".mlci-installed").exists()


@pytest.mark.parametrize("requirements", [MONITOR, RAY], ids=lambda r: r.name)
def test_each_set_installs_into_its_configured_folder(tmp_path, monkeypatch, requirements):
    monkeypatch.setattr(own_env, "missing", lambda modules=(): ["pyarrow"])
    environ = {"GITHUB_WORKSPACE": str(tmp_path), requirements.variable: ".mlci/env"}
    made = own_env.own_environment(requirements, environ, io.StringIO())
    assert made is not None and made.requirements is requirements
    assert made.target == tmp_path / ".mlci" / "env"
    assert made.pins == requirements.in_source  # no image copy on this machine
    other = own_env.own_environment(requirements, {}, io.StringIO())
    assert other is not None and other.target.name == f"mlci-{requirements.name}-env"
    if requirements is MONITOR:
        child = runner(environ, io.StringIO())
        assert isinstance(child, MonitorChild) and child.environment.target == made.target


# which runs install the Ray set: the trusted settings decide, never the pull request


def _with_executor(project: Path, executor: str, message: str) -> None:
    config = project / "mlci.yaml"
    text = re.sub(r"\n  executor: \w+", "", config.read_text())
    config.write_text(text.replace("environment:\n", f"environment:\n  executor: {executor}\n"))
    git(project, "commit", "--quiet", "-am", message)


def _event(tmp_path: Path, project: Path, name: str, payload: dict) -> dict[str, str]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(payload))
    return {
        "GITHUB_EVENT_NAME": name,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_SHA": git(project, "rev-parse", "HEAD"),
        "GITHUB_REF": "refs/heads/main",
    }


def _pull_request(project: Path) -> dict:
    return {
        "number": 7,
        "pull_request": {
            "number": 7,
            "user": {"login": "mallory"},
            "head": {"sha": git(project, "rev-parse", "HEAD"), "ref": "feature"},
            "base": {"sha": git(project, "rev-parse", "main"), "ref": "main"},
        },
        "repository": {"full_name": "acme/models", "default_branch": "main"},
    }


def _decides(project: Path, environ: dict[str, str]) -> bool:
    event = load_event(environ)
    config, _, environ = trusted_settings(load_config(project), project, event, environ)
    return runs_on_ray(event, config, environ)


def test_a_pull_request_cannot_switch_the_ray_environment_on(make_project, tmp_path):
    project = make_project("classification")
    _with_executor(project, "docker", "the base runs pull requests in docker")
    git(project, "checkout", "--quiet", "-b", "feature")
    _with_executor(project, "ray", "send this to the cluster")
    environ = _event(tmp_path, project, "pull_request", _pull_request(project))
    assert not _decides(project, environ)
    assert not _decides(project, {**environ, "MLCI_EXECUTOR": "ray"})  # dropped on a PR


def test_the_base_branchs_ray_executor_installs_it_for_pull_requests_and_pushes(
    make_project, tmp_path
):
    project = make_project("classification")
    _with_executor(project, "ray", "the team's cluster")
    push = _event(tmp_path, project, "push", {"ref": "refs/heads/main"})
    assert _decides(project, push)
    git(project, "checkout", "--quiet", "-b", "feature")
    _with_executor(project, "docker", "a PR cannot leave the cluster either")
    assert _decides(project, _event(tmp_path, project, "pull_request", _pull_request(project)))


def test_runs_without_a_pipeline_install_nothing(make_project, tmp_path):
    project = make_project("classification")
    _with_executor(project, "ray", "the team's cluster")
    for action in ("promote", "rollback", "monitor"):
        payload = {"ref": "refs/heads/main", "inputs": {"action": action}}
        environ = _event(tmp_path, project, "workflow_dispatch", payload)
        assert not _decides(project, environ), action
    payload = {"ref": "refs/heads/main", "inputs": {"action": "retrain"}}
    assert _decides(project, _event(tmp_path, project, "workflow_dispatch", payload))
    # a workflow on the default branch may choose the executor for its own runs
    _with_executor(project, "local", "local by default")
    push = _event(tmp_path, project, "push", {"ref": "refs/heads/main"})
    assert not _decides(project, push)
    assert _decides(project, {**push, "MLCI_EXECUTOR": "ray"})


BLOCKER = """
import importlib, pkgutil, sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("not in the action image: " + name)

sys.meta_path.insert(0, Block())
import mlci_action.stages
modules = {modules!r} + [
    m.name for m in pkgutil.iter_modules(mlci_action.stages.__path__, "mlci_action.stages.")
]
for name in modules:
    importlib.import_module(name)
print("imported", len(modules))
"""


def test_the_actions_own_modules_import_without_the_monitors_dependencies():
    """What the action image runs on every pull request (the action, the pipeline, its stages,
    the entry checks, the executors, the report) imports without numpy, pandas, scipy,
    scikit-learn, pyarrow, pandera or skops, which only the project's environment has."""
    import subprocess

    modules = [
        "mlci_action.github.action",
        "mlci_action.github.__main__",
        "mlci_action.cli",
        "mlci_action.commands.run",
        "mlci_action.pipeline",
        "mlci_action.preflight",
        "mlci_action.dataset",
        "mlci_action.executors.docker",
        "mlci_action.executors.local",
        "mlci_action.images.serving_image",
        "mlci_action.report.render",
    ]
    blocked = {
        "numpy",
        "pandas",
        "scipy",
        "sklearn",
        "pyarrow",
        "fsspec",
        "pandera",
        "skops",
        "ray",
    }
    script = BLOCKER.format(blocked=blocked, modules=modules)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported" in done.stdout
