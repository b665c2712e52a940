"""Executors build an environment and run commands and worker tasks inside it.

``local`` builds a uv virtual environment per requirements hash; ``current`` uses the
interpreter running mlci (an environment managed elsewhere, such as an image).
"""

from __future__ import annotations

from mlci_action.executors.base import Executor, Runtime
from mlci_action.executors.current import CurrentExecutor
from mlci_action.executors.local import LocalExecutor

EXECUTORS: dict[str, type[Executor]] = {"local": LocalExecutor, "current": CurrentExecutor}

__all__ = ["EXECUTORS", "Executor", "Runtime"]
