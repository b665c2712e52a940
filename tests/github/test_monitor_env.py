"""The action image stays lean: `mlci monitor`'s dependencies are installed (pinned, hashed)
only when a monitoring run needs them, and the monitor's process never sees the action's
inputs (the GitHub token, the registry password)."""

from __future__ import annotations

import io
import re
import sys

import pytest

from mlci_action.errors import InputError
from mlci_action.executors.local import uv_bin
from mlci_action.github import monitor_env
from mlci_action.github.monitor import monitor_command
from tests.conftest import ROOT

SECRET = "ghs_inputT0kenThatMustNotReachTheMonitor0"


def test_the_action_image_does_not_install_the_monitors_dependencies():
    image = (ROOT / "requirements" / "action.txt").read_text()
    pinned = {line.split("==")[0] for line in image.splitlines() if "==" in line}
    heavy = {"numpy", "pandas", "scipy", "scikit-learn", "pyarrow", "fsspec"}
    assert not heavy & pinned
    monitor = (ROOT / "requirements" / "monitor.txt").read_text()
    for name in heavy:  # every one pinned to a version, with hashes
        assert re.search(rf"^{name}==[\w.]+ \\$\n\s+--hash=sha256:", monitor, re.M), name
    assert (
        "COPY requirements/monitor.txt /opt/mlci/requirements-monitor.txt"
        in (ROOT / "Dockerfile").read_text()
    )


def test_where_the_modules_import_the_monitor_runs_in_process():
    assert monitor_env.missing() == []  # the development install has them all
    assert monitor_env.runner({}, io.StringIO()) is monitor_command
    assert monitor_env.missing(("numpy", "no_such_module_mlci")) == ["no_such_module_mlci"]


def own(tmp_path, requirements, environ=None):
    return monitor_env.OwnEnvironment(
        tmp_path / "env", requirements, uv_bin(), environ or {}, io.StringIO()
    )


def test_the_monitors_process_gets_the_environment_without_the_actions_inputs(tmp_path):
    environ = {
        "INPUT_GITHUB-TOKEN": SECRET,
        "INPUT_REGISTRY-PASSWORD": SECRET,
        "AWS_PROFILE": "logs-reader",
        "PATH": "/usr/bin",
    }
    child = own(tmp_path, tmp_path / "r.txt", environ).child_environment()
    assert child == {"AWS_PROFILE": "logs-reader", "PATH": "/usr/bin"}
    assert SECRET not in repr(child)


def test_an_installed_folder_is_used_without_installing_again(tmp_path):
    requirements = tmp_path / "monitor.txt"
    requirements.write_text("# nothing to install\n")
    environment = own(tmp_path, requirements, {"PATH": "/usr/bin:/bin"})
    (environment.target).mkdir()
    (environment.target / ".mlci-installed").write_text(requirements.read_text())
    environment.install()  # no uv call: it would fail on this folder's missing pins
    # the monitor itself, as a child process, with the folder on its path
    code = environment(["--since", "not-a-duration", "--log", str(tmp_path)])
    assert code == 2


def test_a_failed_install_is_unusable_input_naming_the_file(tmp_path):
    requirements = tmp_path / "monitor.txt"
    wheel = tmp_path / "missing-1.0-py3-none-any.whl"
    requirements.write_text(f"missing @ file://{wheel} --hash=sha256:{'0' * 64}\n")
    with pytest.raises(InputError) as failed:
        own(tmp_path, requirements).install()
    assert str(requirements) in failed.value.message
    assert "PyPI" in (failed.value.hint or "")
    assert not (tmp_path / "env" / ".mlci-installed").exists()


def test_the_runner_installs_into_the_configured_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(monitor_env, "missing", lambda modules=(): ["pyarrow"])
    made = monitor_env.runner(
        {"GITHUB_WORKSPACE": str(tmp_path), "MLCI_MONITOR_ENV": ".mlci/monitor-env"},
        io.StringIO(),
    )
    assert isinstance(made, monitor_env.OwnEnvironment)
    assert made.target == tmp_path / ".mlci" / "monitor-env"
    assert made.requirements == monitor_env.IN_SOURCE  # no image copy on this machine


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
    blocked = {"numpy", "pandas", "scipy", "sklearn", "pyarrow", "fsspec", "pandera", "skops"}
    script = BLOCKER.format(blocked=blocked, modules=modules)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported" in done.stdout
