"""Entry point of the worker: run one task, write its result (or its error) as JSON."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

from mlci_action.errors import InputError, MlciError

Task = Callable[[dict[str, Any]], dict[str, Any]]

TASKS: dict[str, str] = {
    "train-estimator": "mlci_action.worker.train_estimator",
    "data-tests": "mlci_action.worker.datatests",
    "evaluate": "mlci_action.worker.evaluate",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in TASKS:
        print(f"usage: python -m mlci_action.worker {{{'|'.join(TASKS)}}} REQUEST RESULT")
        return 2
    task, request_path, result_path = args
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    payload: dict[str, Any]
    try:
        run: Task = import_module(TASKS[task]).run
        payload = {"ok": True, "result": run(request)}
    except MlciError as exc:
        kind = "input" if isinstance(exc, InputError) or exc.exit_code == 2 else "failure"
        payload = {"ok": False, "kind": kind, "message": exc.message, "hint": exc.hint}
    except Exception as exc:  # a bug, or a library failing on the project's code: keep the trace
        payload = {
            "ok": False,
            "kind": "failure",
            "message": f"{exc.__class__.__name__}: {exc}",
            "hint": None,
            "traceback": traceback.format_exc(limit=8),
        }
    Path(result_path).write_text(json.dumps(payload, allow_nan=True), encoding="utf-8")
    return 0 if payload["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
