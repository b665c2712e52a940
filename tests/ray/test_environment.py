"""The project's environment on the cluster: what the nodes' Python already has, and the
runtime environment that follows. No cluster needed: :func:`node.lacking` runs here against
this interpreter's real installed distributions (the loopback cluster's nodes run it too)."""

from __future__ import annotations

from importlib import metadata

from mlci_action.executors.ray_cluster import node
from mlci_action.executors.ray_cluster.environment import task_env


def test_a_node_lacks_what_is_not_installed_or_of_another_version():
    pandas = metadata.version("pandas")
    major = int(pandas.split(".")[0])
    lines = [
        "pandas>=1.0",
        f"pandas=={pandas}",
        f"pandas<{major}",
        "scikit-learn>=1.3 ; python_version >= '3'",
        "mlci-no-such-package-x7q==1.0",
        "numpy ; python_version < '3'",  # a marker that does not apply: nothing to install
    ]
    assert node.lacking(lines) == [f"pandas<{major}", "mlci-no-such-package-x7q==1.0"]


def test_lines_only_pip_can_judge_count_as_lacking():
    lines = ["pandas[performance]>=1", "-e .", "mlci @ file:///src/mlci", "--index-url x"]
    assert node.lacking(lines) == lines


def test_the_tasks_use_the_nodes_python_unless_something_is_lacking():
    lines = ["pandas>=1", "scikit-learn>=1.3"]
    assert task_env([], lines) == {}
    env = task_env(["scikit-learn>=1.3"], lines)
    assert env == {"pip": {"packages": lines, "pip_check": False}}  # all of them, for pip
