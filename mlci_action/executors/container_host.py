"""A long-lived worker inside a sandbox container, so heavy imports are paid once per run there too.

The same protocol as :class:`mlci_action.executors.host.WorkerHost` (``python -m
mlci_action.worker --serve``: one JSON line per task in, ``done`` out), spoken over the stdin and
stdout of one ``docker exec`` through the Docker API's attach socket. The worker's own stderr
(between tasks) goes to a log file here. Files are not part of this channel: the runtime copies a
task's inputs in before and its outputs out after (:mod:`mlci_action.executors.transfer`).
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import docker.errors
from docker.utils.socket import STDOUT, frames_iter

from mlci_action.errors import StageFailure

_START = 'echo "$$"; exec "$0" -m mlci_action.worker --serve'
"""The shell prints the worker's process id (to stop it on a timeout), then becomes it."""


class ContainerHost:
    """``python -m mlci_action.worker --serve`` in ``container``; one task at a time."""

    def __init__(
        self, container: Any, python: str, env: Mapping[str, str], workdir: str, log: Path | None
    ) -> None:
        self._container = container
        self._lock = threading.Lock()
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._log = log
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
        self._stderr: IO[bytes] = log.open("ab") if log is not None else open(os.devnull, "wb")  # noqa: SIM115
        api = container.client.api
        try:
            exec_id = api.exec_create(
                container.id,
                ["sh", "-c", _START, python],
                stdin=True,
                stdout=True,
                stderr=True,
                environment=dict(env),
                workdir=workdir,
            )["Id"]
            self._socket = api.exec_start(exec_id, socket=True)
        except docker.errors.DockerException as exc:
            raise StageFailure(f"cannot start the worker in the container: {exc}") from None
        self._raw: socket.socket = getattr(self._socket, "_sock", self._socket)
        self._alive = True
        self._reader = threading.Thread(target=self._read, name="mlci-container-host", daemon=True)
        self._reader.start()
        try:
            self.pid = self._next_line(timeout=60).strip()
            """The worker's process id inside the container."""
        except (TimeoutError, EOFError):
            self.close()
            raise StageFailure(
                "the worker did not start in the container", log_tail=self._tail(None)
            ) from None

    def _read(self) -> None:
        """Demultiplex the exec's output: stdout lines to the queue, stderr to the log."""
        pending = b""
        try:
            for stream, data in frames_iter(self._socket, tty=False):
                if stream != STDOUT:
                    self._stderr.write(data)
                    self._stderr.flush()
                    continue
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self._lines.put(line.decode("utf-8", "replace") + "\n")
        except (OSError, ValueError):
            pass
        finally:
            self._alive = False
            self._lines.put(None)

    def _next_line(self, timeout: float | None) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            self._lines.put(None)  # every later reader sees the end too
            raise EOFError
        return line

    def _tail(self, text: bytes | None) -> str:
        if not text and self._log is not None and self._log.is_file():
            text = self._log.read_bytes()
        lines = (text or b"").decode("utf-8", "replace").rstrip().splitlines()
        return "\n".join(lines[-40:])

    def call(
        self, task: str, message: Mapping[str, Any], *, timeout: float | None, tail: Any
    ) -> None:
        """Send one task's message; return when the worker says ``done``. ``tail()`` gives the
        task's log for a failure's message (a timeout, a crash of the interpreter)."""
        with self._lock:
            try:
                self._raw.sendall((json.dumps(dict(message)) + "\n").encode())
                while (line := self._next_line(timeout)) == "ready\n":
                    continue
            except TimeoutError:
                self.kill()
                raise StageFailure(
                    f"{task} timed out after {timeout:.0f}s", log_tail=self._tail(tail())
                ) from None
            except (EOFError, OSError):
                line = ""
            if line != "done\n":
                raise StageFailure(
                    f"the worker process died during {task}",
                    log_tail=self._tail(tail()),
                    hint="a test or the model may have called exit() or crashed the interpreter",
                )

    @property
    def alive(self) -> bool:
        return self._alive

    def kill(self) -> None:
        with suppress(docker.errors.DockerException):
            self._container.exec_run(["kill", "-9", self.pid])
        self.close()

    def close(self) -> None:
        """End the worker: closing its stdin ends its loop (the container's removal would too)."""
        with suppress(OSError):
            self._raw.shutdown(socket.SHUT_WR)
        self._reader.join(timeout=10)
        with suppress(OSError):
            self._socket.close()
        self._stderr.close()
