"""The model-tests task: the project's pytest suite, run in the worker with mlci's plugin."""

from __future__ import annotations

from typing import Any

import pytest


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Request: ``path``, ``args``. The MLCI_* variables are already set by the worker."""
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
