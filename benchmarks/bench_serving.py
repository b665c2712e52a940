"""Serving against MLServer: the same model, the same V2 requests, interleaved, medians.

    python benchmarks/bench_serving.py [--repeats 3] [--requests 2000] [--skip-mlserver]

The model: a HistGradientBoostingClassifier fitted on a DataFrame of 20 numeric columns.
mlci serves it as its serving image does (``python -m mlci_action.serving`` with the training
schema, so every request is validated), with WORKERS=1 and WORKERS=2 processes. MLServer
1.7.1 with its scikit-learn runtime serves the same model (joblib), with its default
settings but ``parallel_workers: 0`` (its inference process does not start here), as
installed and with ``OMP_NUM_THREADS=1`` (tuned as mlci's MLCI_SERVE_THREADS=1 is), from a
benchmark-only virtual environment under build/ (made on first use, from
PyPI; MLServer is not one of mlci's dependencies).

Loads, each on every server in turn, repeated ``--repeats`` times (servers interleaved):
- single-row requests, one 2-D FP64 input, ``--requests`` per load, from 1 and 8 clients on
  keep-alive connections: requests/s, p50, p99;
- 1,000-row batches from 1 client: rows/s;
- abuse: 300 clients that send half a request and stall, and 3 clients each streaming a
  100 MB body (over mlci's 64 MiB limit) at once, while 1 client sends single-row requests:
  its p50/p99 against the same load without abuse, and the server's peak RSS (all its
  processes) against its RSS before.

The load generator is a raw-socket asyncio client on uvloop (pre-encoded requests, only the
status line and Content-Length parsed); its own CPU time per request is printed, so one can
see it is not the bottleneck. It shares the machine's cores with the server.
Loopback only; every process it starts is stopped by its own pid (process group).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import uvloop

ROOT = Path(__file__).resolve().parents[1]
MLSERVER_VENV = ROOT / "build" / "mlserver-venv"
MLSERVER_PINS = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1")
FEATURES = [f"f{i}" for i in range(20)]
BATCH_ROWS = 1000
STALLED = 300
BIG_CLIENTS, BIG_BYTES = 3, 100 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_model(work: Path) -> pd.DataFrame:
    import joblib
    import pandera.pandas as pa
    from sklearn.ensemble import HistGradientBoostingClassifier

    from mlci_action.worker.modelio import save_model

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20_000, 20)), columns=FEATURES)
    target = (frame["f0"] + frame["f1"] * frame["f2"] - frame["f3"] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(frame, target)
    save_model(model, work / "model.skops")
    joblib.dump(model, work / "model.joblib")
    schema = pa.DataFrameSchema(
        {name: pa.Column(float, pa.Check.in_range(-100, 100)) for name in FEATURES}
        | {"y": pa.Column(int)}
    )
    (work / "schema.yaml").write_text(str(schema.to_yaml()))
    return frame


def ensure_mlserver() -> Path:
    mlserver = MLSERVER_VENV / "bin" / "mlserver"
    if not mlserver.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLSERVER_VENV)], check=True)
        pip = [str(MLSERVER_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, *MLSERVER_PINS, "scikit-learn==" + sklearn_version()], check=True)
    return mlserver


def sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    cwd: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.cwd / f"{self.name.replace(' ', '_')}.log").open("ab")
        self.process = subprocess.Popen(
            self.argv,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: stopped as a whole, by our pid
        )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                    conn.sendall(b"GET /v2/models/m/ready HTTP/1.1\r\nHost: x\r\n\r\n")
                    if conn.recv(100).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited {self.process.returncode}")
            time.sleep(0.2)
        raise SystemExit(f"{self.name} never became ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def rss_mb(self) -> float:
        """Resident memory of the server and every process under it."""
        assert self.process is not None
        total, todo = 0, [self.process.pid]
        while todo:
            pid = todo.pop()
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        return total / 1024


def infer_request(rows: np.ndarray) -> bytes:
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": list(rows.shape),
                    "datatype": "FP64",
                    "data": rows.reshape(-1).tolist(),
                }
            ],
            "outputs": [{"name": "predict"}],
        }
    ).encode()
    head = (
        "POST /v2/models/m/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


@dataclass(frozen=True)
class Load:
    per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    client_cpu_us: float
    """The load generator's CPU time per request."""


async def _load(port: int, requests: list[bytes], clients: int) -> Load:
    latencies: list[float] = []
    errors = 0
    queue = iter(requests)

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
        for raw in queue:
            began = time.perf_counter()
            try:
                if await _one(reader, writer, raw) != 200:
                    errors += 1
            except (ConnectionError, asyncio.IncompleteReadError):
                # the server dropped the connection: an error, and a new connection
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
            latencies.append(time.perf_counter() - began)
        writer.close()

    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - began
    cpu = time.process_time() - cpu
    ms = sorted(x * 1000 for x in latencies)
    return Load(
        per_s=len(requests) / wall,
        p50_ms=ms[len(ms) // 2],
        p99_ms=ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        errors=errors,
        client_cpu_us=cpu / len(requests) * 1e6,
    )


async def _abuse(port: int, server: Server, requests: list[bytes]) -> tuple[Load, float]:
    """Single-row load from 1 client while 300 clients stall and 3 stream 100 MB bodies."""
    stalled = []
    for _ in range(STALLED):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Le")
        stalled.append(writer)
    peak = server.rss_mb()

    async def big() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            head = "POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            writer.write(f"{head}\r\nContent-Length: {BIG_BYTES}\r\n\r\n".encode())
            chunk = b'{"inputs": [' + b" " * (1024 * 1024 - 12)
            for _ in range(BIG_BYTES // len(chunk)):
                writer.write(chunk)
                await writer.drain()
                chunk = b" " * len(chunk)
            await asyncio.wait_for(reader.read(100), 30)
            writer.close()
        except (OSError, TimeoutError):
            pass  # the server closed on us (mlci: 413 at once), or never answered

    async def watch(done: asyncio.Event) -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.rss_mb())
            await asyncio.sleep(0.05)

    done = asyncio.Event()
    watcher = asyncio.create_task(watch(done))
    bigs = [asyncio.create_task(big()) for _ in range(BIG_CLIENTS)]
    load = await _load(port, requests, 1)
    await asyncio.gather(*bigs)
    done.set()
    await watcher
    for writer in stalled:
        writer.close()
    return load, peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--skip-mlserver", action="store_true")
    args = parser.parse_args()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-serving-"))
    frame = make_model(work)
    rows = frame.to_numpy()
    singles = [infer_request(rows[i : i + 1]) for i in range(args.requests)]
    starts = [(i * BATCH_ROWS) % (len(rows) - BATCH_ROWS + 1) for i in range(args.batches)]
    batches = [infer_request(rows[start : start + BATCH_ROWS]) for start in starts]
    schema = json.dumps({"kind": "yaml", "path": "schema.yaml"})
    servers: list[Server] = []
    for workers in (1, 2):
        port = free_port()
        servers.append(
            Server(
                f"mlci WORKERS={workers}",
                [
                    sys.executable,
                    *("-m", "mlci_action.serving", "--model", str(work / "model.skops")),
                    *("--name", "m", "--schema", schema, "--project-dir", str(work)),
                    *("--target", "y", "--port", str(port)),
                ],
                {"WORKERS": str(workers), "PYTHONPATH": str(ROOT)},
                port,
                work,
            )
        )
    if not args.skip_mlserver:
        mlserver = ensure_mlserver()
        # as installed, and tuned as mlci is: one OpenMP thread per prediction (a one-row
        # HistGradientBoosting prediction with every core's threads is slow on 2 loaded cores)
        for label, env in (("", {}), (", OMP_NUM_THREADS=1", {"OMP_NUM_THREADS": "1"})):
            mlwork = work / f"mlserver{len(servers)}"
            (mlwork / "m").mkdir(parents=True)
            port = free_port()
            (mlwork / "settings.json").write_text(
                json.dumps(
                    {
                        "http_port": port,
                        "grpc_port": free_port(),
                        "metrics_port": free_port(),
                        # its separate inference process fails to start here ("There is no
                        # current event loop in thread 'MainThread'"): inference in the server
                        "parallel_workers": 0,
                    }
                )
            )
            (mlwork / "m" / "model-settings.json").write_text(
                json.dumps(
                    {
                        "name": "m",
                        "implementation": "mlserver_sklearn.SKLearnModel",
                        "parameters": {"uri": str(work / "model.joblib")},
                    }
                )
            )
            servers.append(
                Server(f"MLServer 1.7.1{label}", [str(mlserver), "start", "."], env, port, mlwork)
            )

    loads: dict[str, Callable[[Server], Any]] = {
        "1 client": lambda s: asyncio.run(_load(s.port, singles, 1)),
        "8 clients": lambda s: asyncio.run(_load(s.port, singles, 8)),
        "batch": lambda s: asyncio.run(_load(s.port, batches, 1)),
        "abuse": lambda s: asyncio.run(_abuse(s.port, s, singles)),
    }
    results: dict[tuple[str, str], list[Any]] = {}
    rss_idle: dict[str, list[float]] = {}
    try:
        for _ in range(args.repeats):
            for server in servers:  # interleaved: one server at a time, all loads, next
                server.start()
                asyncio.run(_load(server.port, singles[:200], 2))  # warm-up
                rss_idle.setdefault(server.name, []).append(server.rss_mb())
                for load, run in loads.items():
                    results.setdefault((server.name, load), []).append(run(server))
                server.stop()
    finally:
        for server in servers:
            server.stop()
    report(servers, results, rss_idle, args)
    return 0


def _median(values: list[float]) -> float:
    return statistics.median(values)


def report(
    servers: list[Server],
    results: dict[tuple[str, str], list[Any]],
    rss_idle: dict[str, list[float]],
    args: argparse.Namespace,
) -> None:
    print(
        f"## Serving against MLServer ({platform.node()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, median of {args.repeats}, {args.requests} requests a load)\n"
    )
    print(
        "| server | 1 client: req/s (p50 / p99 ms) | 8 clients: req/s (p50 / p99 ms) | "
        f"{BATCH_ROWS:,}-row batches: rows/s | abuse, 1 client: p50 / p99 ms | RSS idle -> peak "
        "under abuse, MB | errors |"
    )
    print("|:--|--:|--:|--:|--:|--:|--:|")
    for server in servers:
        one, eight, batch = (results[(server.name, k)] for k in ("1 client", "8 clients", "batch"))
        abuse = [load for load, _ in results[(server.name, "abuse")]]
        peak = [peak for _, peak in results[(server.name, "abuse")]]
        errors = sum(load.errors for loads in (one, eight, batch) for load in loads)

        def cell(loads: list[Load]) -> str:
            return (
                f"{_median([x.per_s for x in loads]):.0f} ({_median([x.p50_ms for x in loads]):.1f}"
                f" / {_median([x.p99_ms for x in loads]):.1f})"
            )

        print(
            f"| {server.name} | {cell(one)} | {cell(eight)} | "
            f"{_median([x.per_s for x in batch]) * BATCH_ROWS:,.0f} | "
            f"{_median([x.p50_ms for x in abuse]):.1f} / {_median([x.p99_ms for x in abuse]):.1f} | "
            f"{_median(rss_idle[server.name]):.0f} -> {_median(peak):.0f} | {errors} |"
        )
    cpu = [x.client_cpu_us for key, loads in results.items() if key[1] != "abuse" for x in loads]
    print(
        f"\nload generator CPU: median {_median(cpu):.0f} us per request "
        "(on the same 2 cores as the server)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
