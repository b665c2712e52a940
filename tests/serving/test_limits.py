"""The server's limits over real sockets: stalled clients, the in-flight cap, the body limit,
and metrics summed over several server processes."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.conftest import classification_project, wait_port
from tests.serving.test_listen import free_port, serve

TIMEOUT_S = 1.5
MAX_BODY = 4096
ROW = {"a": 0.5, "b": 3, "color": "red"}


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[int, Path]]]:
    """Two servers started together: one process with tight limits, and two processes."""
    limited = {
        "MLCI_SERVE_TIMEOUT": str(TIMEOUT_S),
        "MLCI_SERVE_MAX_BODY": str(MAX_BODY),
        "MLCI_SERVE_MAX_INFLIGHT": "2",
        "WORKERS": "1",
    }
    specs = {"limited": limited, "two": {"WORKERS": "2"}}
    started = {}
    for name, env in specs.items():
        root = tmp_path_factory.mktemp(name)
        classification_project(root)
        port = free_port()
        started[name] = (serve(root, {**env, "PORT": str(port)}), root)
    try:
        found = {}
        for name, (process, root) in started.items():
            found[name] = (
                wait_port(process, root / "server.log", timeout=180),
                root / "server.log",
            )
        for port, _ in found.values():
            _wait_ready(port)
        yield found
    finally:
        for process, _ in started.values():
            process.terminate()
        for process, _ in started.values():
            process.wait(timeout=20)


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if _exchange(port, _get("/v2/models/m/ready")).startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("server not ready")


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


def _post(path: str, body: bytes, *, close: bool = True) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


def _read_all(conn: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """Everything until the server closes; and how long that took."""
    began = time.monotonic()
    conn.settimeout(limit_s)
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return data, time.monotonic() - began
        data += chunk


def _exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(raw)
        return _read_all(conn, 30)[0]


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "partial",
    [
        b"",
        b"POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\n",
        b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[{"a": 0.',
    ],
    ids=["nothing", "half-headers", "half-body"],
)
def test_a_stalled_client_is_dropped_within_the_timeout(ports, partial: bytes) -> None:
    port, _ = ports["limited"]
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(partial)
        answer, seconds = _read_all(conn, limit_s=TIMEOUT_S + 5)
    assert seconds < TIMEOUT_S + 1.0
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"did not arrive in time" in answer


def test_the_inflight_cap_answers_503_and_idle_connections_do_not_count(ports) -> None:
    port, _ = ports["limited"]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
    try:
        body = json.dumps([ROW]).encode()
        assert _status(_exchange(port, _post("/predict", body))) == 200  # idle ones don't count
        # two requests in flight (their bodies still arriving) fill the cap of 2
        holding = []
        for _ in range(2):
            conn = socket.create_connection(("127.0.0.1", port))
            conn.sendall(_post("/predict", body)[:-3])
            holding.append(conn)
        time.sleep(0.3)
        refused = _exchange(port, _post("/predict", body))
        assert _status(refused) == 503
        assert re.search(rb"(?i)retry-after: 1\r\n", refused)
        assert b"MLCI_SERVE_MAX_INFLIGHT" in refused
        for conn in holding:  # the held requests finish and are answered
            conn.sendall(body[-3:])
            assert _read_all(conn, 10)[0].startswith(b"HTTP/1.1 200")
            conn.close()
        assert _status(_exchange(port, _post("/predict", body))) == 200
    finally:
        for conn in idle:
            conn.close()


def test_a_content_length_over_the_limit_is_refused_before_the_body(ports) -> None:
    port, _ = ports["limited"]
    with socket.create_connection(("127.0.0.1", port)) as conn:
        head = f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
        conn.sendall(head.encode())  # and not one byte of the body
        answer, _ = _read_all(conn, limit_s=10)
    assert _status(answer) == 413
    assert b"MLCI_SERVE_MAX_BODY" in answer and str(MAX_BODY).encode() in answer


def test_a_chunked_body_is_refused_as_soon_as_it_is_over(ports) -> None:
    port, _ = ports["limited"]
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"[" + b" " * 1999
        for _ in range(3):  # 6,000 bytes, over the 4,096 limit; the body is never finished
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer, seconds = _read_all(conn, limit_s=10)
    assert _status(answer) == 413 and seconds < TIMEOUT_S  # not the timeout: the limit
    assert b"MLCI_SERVE_MAX_BODY" in answer


def test_a_chunked_body_under_the_limit_is_served(ports) -> None:
    port, _ = ports["limited"]
    body = json.dumps([ROW, ROW]).encode()
    raw = b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close"
    raw += b"\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answer = _exchange(port, raw)
    assert _status(answer) == 200
    assert len(json.loads(answer.split(b"\r\n\r\n", 1)[1])["predictions"]) == 2


def _metric_total(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_are_summed_over_the_server_processes(ports) -> None:
    port, log = ports["two"]
    ready = re.findall(r"ready \(process (\d+)\)", log.read_text())
    assert len(set(ready)) == 2, log.read_text()  # two processes, each loaded the model
    body = json.dumps([ROW, ROW, ROW]).encode()
    sent = 30
    for _ in range(sent):  # a new connection each: the kernel spreads them over the processes
        assert _status(_exchange(port, _post("/predict", body))) == 200
    counts = set()
    for _ in range(6):  # whichever process answers /metrics reports every process's counts
        text = _exchange(port, _get("/metrics")).split(b"\r\n\r\n", 1)[1].decode()
        counts.add(
            (
                _metric_total(text, "mlci_serving_requests_total", endpoint="predict", code="200"),
                _metric_total(text, "mlci_serving_rows_predicted_total"),
                _metric_total(text, "mlci_serving_request_seconds_count", endpoint="predict"),
            )
        )
    assert counts == {(sent, 3 * sent, sent)}
