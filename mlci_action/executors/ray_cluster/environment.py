"""The project's environment on a Ray cluster, as a Ray runtime environment.

The same requirements files (and lock) the other executors install, plus mlci's worker
requirements. When the nodes' own Python already has every one of them (a cluster image built
for the project, as Ray recommends for production), the tasks run in it as is; otherwise the
requirements go to the ``pip`` field (Ray builds and caches one virtual environment per content
on each node: a copy of the node's whole Python environment when Ray runs in a virtualenv, so
a minute or more for a large one). The project directory is the ``working_dir``, without data files,
VCS data, virtual environments or large files (data travels explicitly, as bytes, to the tasks
that read it); mlci's own package travels as a ``py_modules`` entry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlci_action.config import Config, Ray
from mlci_action.executors.base import MLCI_SOURCE, RUNTIME_REQUIREMENTS
from mlci_action.executors.transfer import SKIP, walk

LARGE_BYTES = 10 * 2**20
"""Files this large or larger stay out of the working directory."""


def requirement_lines(project: Path, config: Config) -> list[str]:
    """The requirements as pip reads them: the lock's and each file's lines, then mlci's."""
    env = config.environment
    lines: list[str] = []
    for name in [*([env.lock] if env.lock else []), *env.requirements]:
        for line in (project / name).read_text(encoding="utf-8").splitlines():
            text = line.split(" #", 1)[0].strip()
            if text and not text.startswith("#"):
                lines.append(text)
    return [*lines, *RUNTIME_REQUIREMENTS]


def excludes(project: Path, config: Config, ray: Ray) -> list[str]:
    """gitignore-style patterns kept out of the working directory."""
    patterns = [f"{name}/" for name in sorted(SKIP)]
    for name in (config.data.train, config.data.test):
        if "://" not in name:  # a file, a directory or a glob of the project's
            patterns.append("/" + name.lstrip("./"))
    for item in walk(project):
        if item.is_file() and not item.is_symlink() and item.stat().st_size >= LARGE_BYTES:
            patterns.append("/" + item.relative_to(project).as_posix())
    return [*patterns, *ray.excludes]


def job_env(project: Path, config: Config, ray: Ray) -> dict[str, Any]:
    """The connection's runtime environment: the candidate's project as working directory and
    mlci's package (Ray uploads local folders only for the whole connection, not per task)."""
    return {
        "working_dir": str(project),
        "excludes": excludes(project, config, ray),
        "py_modules": [str(MLCI_SOURCE / "mlci_action")],
        "env_vars": {"PYTHONHASHSEED": "0"},
    }


def task_env(missing: list[str], lines: list[str]) -> dict[str, Any]:
    """Each task's runtime environment: nothing of its own when no requirement is ``missing``
    on the nodes, else all the ``lines`` of its side (candidate and baseline may differ) for
    pip; the working directory and mlci's package come from :func:`job_env`."""
    return {"pip": {"packages": lines, "pip_check": False}} if missing else {}


def on_every_node(run: str, lines: list[str], timeout: float = 300) -> list[dict[str, Any]]:
    """:func:`.node.probe` on every live node, in the connection's runtime environment (no
    pip environment is built): each node's Python, packages and the ``lines`` it lacks."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from mlci_action.executors.ray_cluster import node

    remote = ray.remote(node.probe)
    refs = [
        remote.options(
            num_cpus=0,
            name="mlci:requirements",
            scheduling_strategy=NodeAffinitySchedulingStrategy(item["NodeID"], soft=False),
        ).remote(run, lines)
        for item in ray.nodes()
        if item.get("Alive")
    ]
    return list(ray.get(refs, timeout=timeout))


def environment_digest(project: Path, config: Config) -> str:
    """What decides the environment's packages (its key in run.json)."""
    lines = requirement_lines(project, config)
    return hashlib.blake2b(json.dumps(lines).encode(), digest_size=16).hexdigest()
