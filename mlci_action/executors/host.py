"""A long-lived worker process per environment, so heavy imports are paid once per run."""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from mlci_action.errors import StageFailure


class WorkerHost:
    """``python -m mlci_action.worker --serve`` in an environment; one task at a time."""

    def __init__(self, python: str, env: Mapping[str, str], log: Path) -> None:
        self._lock = threading.Lock()
        self._used = False
        self._log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._stderr: IO[bytes] = log.open("wb")
        self._proc = subprocess.Popen(
            [python, "-m", "mlci_action.worker", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=dict(env),
            text=True,
        )

    def _tail(self, path: Path | None) -> str:
        for candidate in (path, self._log):
            if candidate is not None and candidate.is_file():
                text = candidate.read_text(encoding="utf-8", errors="replace").rstrip()
                if text:
                    return "\n".join(text.splitlines()[-40:])
        return ""

    def call(
        self,
        task: str,
        request: Mapping[str, Any],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: Path | None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        with self._lock, tempfile.TemporaryDirectory(prefix="mlci-task-") as tmp:
            self._used = True
            timer = threading.Timer(timeout, self._proc.kill) if timeout else None
            result = Path(tmp) / "result.json"
            if log is not None:
                log.parent.mkdir(parents=True, exist_ok=True)
            message = {
                "task": task,
                "request": request,
                "result": str(result),
                "log": str(log) if log else None,
                "cwd": str(cwd),
                "env": dict(env),
            }
            assert self._proc.stdin is not None and self._proc.stdout is not None
            if timer is not None:
                timer.start()
            try:
                self._proc.stdin.write(json.dumps(message) + "\n")
                self._proc.stdin.flush()
                while (line := self._proc.stdout.readline()) == "ready\n":
                    continue
            except (BrokenPipeError, OSError):
                line = ""
            finally:
                if timer is not None:
                    timer.cancel()
            if timer is not None and timer.finished.is_set() and line != "done\n":
                raise StageFailure(
                    f"{task} timed out after {timeout:.0f}s", log_tail=self._tail(log)
                )
            if line != "done\n" or not result.is_file():
                code = self._proc.poll()
                raise StageFailure(
                    f"the worker process died during {task}"
                    + (f" (exit code {code})" if code is not None else ""),
                    log_tail=self._tail(log),
                    hint="a test or the model may have called exit() or crashed the interpreter",
                )
            payload: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
            return payload

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        """End the process: an idle one exits when its input closes; one warmed but never
        given a task is stopped at once (it would finish its seconds of imports first)."""
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        if not self._used:
            self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()


class HostPool:
    """One WorkerHost per (interpreter, variables, lane), started on first use or by ``warm``.

    The lanes keep the project's code (schema modules, model tests) out of the process that
    scores the models, and let model tests run while the evaluation does."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._hosts: dict[str, WorkerHost] = {}
        self._lock = threading.Lock()

    def get(self, python: str, env: Mapping[str, str], lane: str = "scoring") -> WorkerHost:
        key = json.dumps([python, sorted(env.items()), lane])
        with self._lock:
            host = self._hosts.get(key)
            if host is None or not host.alive:
                host = WorkerHost(python, env, self.logs / f"worker-{lane}-{len(self._hosts)}.log")
                self._hosts[key] = host
            return host

    def close(self) -> None:
        with self._lock:
            for host in self._hosts.values():
                host.close()
            self._hosts.clear()
