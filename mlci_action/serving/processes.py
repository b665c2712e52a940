"""Server processes: one listening socket, WORKERS uvicorn processes accepting on it.

The socket is bound first (so ``--port 0`` can be logged before anything loads), then each
process loads the model once, in the background, while it already answers liveness. With one
worker the server runs in this process; with more, this process forks them, passes SIGTERM
and SIGINT on, and stops them all when one exits (a model that cannot be loaded, a crash), with
that worker's exit status, so a platform restarts the container as a whole.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

from mlci_action.errors import MlciError
from mlci_action.serving.app import ServingApp, limit_threads
from mlci_action.serving.connection import timed_protocol
from mlci_action.serving.inference_log.settings import LogSettings
from mlci_action.serving.inference_log.writer import InferenceLog
from mlci_action.serving.limits import Limits
from mlci_action.serving.metrics import ServingMetrics, share_between_processes
from mlci_action.serving.model import ServedModel
from mlci_action.serving.server import ModelSlot, ServerState, load_in_background

log = logging.getLogger("mlci.serving")
BACKLOG = 2048


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def serve(
    sock: socket.socket,
    name: str,
    loader: Callable[[], ServedModel],
    limits: Limits,
    workers: int,
    logging_: LogSettings | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (0) or until the model cannot be loaded (its exit status)."""
    if workers == 1:
        return _worker(sock, name, loader, limits, logging_)
    directory = Path(tempfile.mkdtemp(prefix="mlci-metrics-"))
    share_between_processes(directory)
    children: list[int] = []
    try:
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child's exit status is what the parent sees
                code = 1
                try:
                    code = _worker(sock, name, loader, limits, logging_)
                finally:
                    os._exit(code)
            children.append(pid)
        sock.close()
        return _supervise(children)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _supervise(children: list[int]) -> int:
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        _signal_all(children, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    running = set(children)
    while running:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            break
        running.discard(pid)
        code = os.waitstatus_to_exitcode(raw)
        if code != 0 and not stopping:
            status = status or (code if code > 0 else 1)
            log.error("server process %d exited with %d; stopping the others", pid, code)
            stopping = True
            _signal_all(running, signal.SIGTERM)
    return status


def _signal_all(pids: list[int] | set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


class _Server(uvicorn.Server):
    """Finishes the inference log (its queue, the open file) once the connections are done:
    after ``shutdown`` uvicorn re-raises the SIGTERM it caught, and nothing later runs."""

    def __init__(self, config: uvicorn.Config, inference_log: InferenceLog | None) -> None:
        super().__init__(config)
        self.inference_log = inference_log

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        if self.inference_log is not None:
            self.inference_log.close()


SWITCH_INTERVAL_S = 0.0002
"""How long a thread may hold the GIL while another waits (CPython's default: 5 ms). The event
loop answering requests shares the process with the inference log's writer thread and
prometheus_client; at 5 ms a request arriving while the writer encodes a batch waits up to that
long, which is the single-row p99 (benchmarks/README.md, "Inference logging on vs off")."""


def _worker(
    sock: socket.socket,
    name: str,
    loader: Callable[[], ServedModel],
    limits: Limits,
    logging_: LogSettings | None = None,
) -> int:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    slot = ModelSlot(name)
    state = ServerState(slot, ServingMetrics())
    inference_log = None
    if logging_ is not None and logging_.enabled:  # per process: its thread starts after fork
        inference_log = state.inference_log = InferenceLog(logging_, state.metrics.registry)
    config = uvicorn.Config(
        ServingApp(state, limits),
        http=timed_protocol(limits.timeout_s),
        loop="uvloop",
        lifespan="off",
        access_log=False,  # the app logs each request once, with its duration
        log_config=None,
        server_header=False,
        date_header=False,
        timeout_keep_alive=int(max(1, limits.keep_alive_s)),
        timeout_graceful_shutdown=int(max(1, limits.timeout_s)),
        backlog=BACKLOG,
    )
    server = _Server(config, inference_log)
    load_in_background(slot, loader)

    def stop_on_failure() -> None:
        slot.loaded.wait()
        if slot.failure is not None:
            server.should_exit = True
        else:
            log.info("model %r loaded; ready (process %d)", name, os.getpid())

    threading.Thread(target=stop_on_failure, daemon=True).start()
    limit_threads(limits.threads)  # this thread runs the event loop and the small predictions
    server.run(sockets=[sock])
    failure = slot.failure
    if failure is None:
        log.info("stopped (process %d)", os.getpid())
        return 0
    if isinstance(failure, MlciError):
        log.error("cannot load the model: %s", failure)
        return failure.exit_code
    log.error("cannot load the model", exc_info=failure)
    return 1
