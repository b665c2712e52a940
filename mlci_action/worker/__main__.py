"""Entry point of the worker.

``python -m mlci_action.worker TASK REQUEST RESULT`` runs one task. ``--serve`` keeps one
process alive for a whole run: it imports pandas, scikit-learn, pandera and skops once (seconds
on a small machine), then runs tasks as the parent sends them, one JSON line each:
``{"task", "request", "result", "log", "cwd", "env"}``. The task's output goes to its log file,
its result to the result file, and the line ``done`` back to the parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any, NoReturn

from mlci_action.errors import InputError, MlciError
from mlci_action.executors.tasks import TASKS, Role

Task = Callable[[dict[str, Any]], dict[str, Any]]

MODULES: dict[str, str] = {
    "train-estimator": "mlci_action.worker.train_estimator",
    "data-tests": "mlci_action.worker.checks",
    "evaluate": "mlci_action.worker.evaluate",
    "model-tests": "mlci_action.worker.model_tests",
    "reference-profile": "mlci_action.monitoring.reference_task",
}
PRELOAD = ("pandas", "sklearn", "skops.io", "pandera.pandas", "pytest")


def run_task(task: str, request: dict[str, Any]) -> dict[str, Any]:
    """Run one task; its outcome (result or error) as the JSON payload the parent reads."""
    try:
        checked = TASKS[task].model_validate(request)  # the same model the stage sent
        for _, role, path in checked.files():  # in a container, an output's folder may be new
            if role is Role.OUTPUT:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        run: Task = import_module(MODULES[task]).run
        return {"ok": True, "result": run(checked.model_dump(mode="json"))}
    except MlciError as exc:
        kind = "input" if isinstance(exc, InputError) or exc.exit_code == 2 else "failure"
        return {"ok": False, "kind": kind, "message": exc.message, "hint": exc.hint}
    except Exception as exc:  # a bug, or a library failing on the project's code: keep the trace
        return {
            "ok": False,
            "kind": "failure",
            "message": f"{exc.__class__.__name__}: {exc}",
            "hint": None,
            "traceback": traceback.format_exc(limit=8),
        }


def _write(path: str, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, allow_nan=True), encoding="utf-8")


@contextlib.contextmanager
def _redirected(log: str | None, cwd: str, env: Mapping[str, str]) -> Iterator[None]:
    """Point fds 1 and 2 at the task's log, and set its directory and variables, for one task."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    target = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    old_cwd, old_env = os.getcwd(), dict(os.environ)
    os.dup2(target, 1)
    os.dup2(target, 2)
    os.chdir(cwd)
    os.environ.update(env)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)


def serve() -> NoReturn:
    control_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    control_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # a task that reads stdin must not eat the protocol
    os.dup2(2, 1)  # stray output between tasks goes to the host's stderr
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            import_module(name)
    control_out.write("ready\n")
    control_out.flush()
    for line in control_in:
        message = json.loads(line)
        for path in (message["result"], message.get("log")):
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        with _redirected(message.get("log"), message["cwd"], message.get("env") or {}):
            payload = run_task(message["task"], message["request"])
        _write(message["result"], payload)
        control_out.write("done\n")
        control_out.flush()
    # the parent closed the input: every result is written. End without the interpreter's
    # teardown of every module a run imported (about a second of CPU per process, while the
    # parent waits for it at the end of each run)
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--serve"]:
        return serve()
    if len(args) != 3 or args[0] not in TASKS:
        print(f"usage: python -m mlci_action.worker {{{'|'.join(TASKS)}}} REQUEST RESULT | --serve")
        return 2
    task, request_path, result_path = args
    payload = run_task(task, json.loads(Path(request_path).read_text(encoding="utf-8")))
    _write(result_path, payload)
    return 0 if payload["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
