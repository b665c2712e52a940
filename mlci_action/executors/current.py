"""The ``current`` executor: the interpreter running mlci is the environment."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from mlci_action.config import Config
from mlci_action.executors.base import MLCI_SOURCE, ProcessRuntime, environment_key
from mlci_action.record import EnvironmentInfo


class CurrentExecutor:
    name = "current"

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir

    def key(self, project: Path, config: Config) -> str:
        return environment_key(
            project, config.environment, f"{sys.executable}:{platform.python_version()}", self.name
        )

    def prepare_image(self, image: str, log: Path, config: Config) -> None:
        return None  # no images here: the champion is scored in the project's environment

    def prepare(self, project: Path, config: Config, log: Path) -> ProcessRuntime:
        info = EnvironmentInfo(
            key=self.key(project, config),
            python=platform.python_version(),
            executor=self.name,
            reused=True,
        )
        return ProcessRuntime(
            info=info,
            python=sys.executable,
            bin_dir=Path(sys.executable).parent,
            extra_env={"PYTHONPATH": str(MLCI_SOURCE)},
            pass_env=tuple(config.environment.pass_env),
        )
