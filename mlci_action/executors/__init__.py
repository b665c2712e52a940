"""Executors build an environment and run commands and worker tasks inside it.

``local`` builds a uv virtual environment per requirements hash; ``docker`` runs in the
environment image; ``current`` uses the interpreter running mlci (an environment managed
elsewhere, such as an image). ``auto``, the default, is docker when a daemon answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from mlci_action.config import Config
from mlci_action.errors import ConfigError
from mlci_action.executors.base import Executor, Runtime
from mlci_action.executors.current import CurrentExecutor
from mlci_action.executors.local import LocalExecutor


def _docker() -> type[Executor]:
    from mlci_action.executors.docker import DockerExecutor  # the docker SDK: only when used

    return DockerExecutor


def _ray() -> type[Executor]:
    from mlci_action.executors.ray_cluster import RayExecutor  # ray: an optional extra

    return RayExecutor


EXECUTORS: dict[str, Callable[[], type[Executor]]] = {
    "local": lambda: LocalExecutor,
    "current": lambda: CurrentExecutor,
    "docker": _docker,
    "ray": _ray,
}


def choose(configured: str, environ: Mapping[str, str]) -> type[Executor]:
    """The executor for a run: MLCI_EXECUTOR overrides mlci.yaml; ``auto`` picks docker when a
    Docker daemon answers, local otherwise."""
    name = environ.get("MLCI_EXECUTOR") or configured
    if name == "auto":
        from mlci_action.images.docker_api import daemon_reachable

        name = "docker" if daemon_reachable() else "local"
    if name not in EXECUTORS:
        raise ConfigError(
            f"MLCI_EXECUTOR={name!r} is not an executor",
            hint=f"use one of: auto, {', '.join(EXECUTORS)}",
        )
    return EXECUTORS[name]()


def create(config: Config, cache_dir: Path, environ: Mapping[str, str]) -> Executor:
    """The run's executor, with what it reads from mlci's environment checked now, before any
    work (the ray executor's cluster address: exit 2 when it is missing or malformed)."""
    executor = choose(config.environment.executor, environ)
    if executor.name == "ray":
        from mlci_action.executors.ray_cluster import RayExecutor, settings

        return RayExecutor(cache_dir, settings(config, environ))
    return executor(cache_dir)


__all__ = ["EXECUTORS", "Executor", "Runtime", "choose", "create"]
