"""The model-tests task: the project's pytest suite, run in the worker with mlci's plugin."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Request: :class:`mlci_action.executors.tasks.ModelTests`. The plugin's fixtures read
    the MLCI_* variables set here (the worker restores its environment after the task)."""
    os.environ.update(
        {
            "MLCI_MODEL_PATH": request["model"],
            "MLCI_BASELINE_MODEL_PATH": request.get("baseline_model") or "",
            "MLCI_TRAIN_PATH": request["train_path"],
            "MLCI_TEST_PATH": request["test_path"],
            "MLCI_TARGET": request["target"],
            "MLCI_TASK": request["task"],
            "MLCI_SEED": str(request["seed"]),
            "MLCI_TRUSTED_TYPES": json.dumps(request.get("trusted_types") or []),
            "MLCI_RESULTS_PATH": request["results_path"],
        }
    )
    args = [
        request["path"],
        "-p",
        "mlci_action.pytest_plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "--no-header",
        "-rN",
        "--color=no",
        *request.get("args", []),
    ]
    return {"exitstatus": int(pytest.main(args))}
