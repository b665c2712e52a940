"""PORT and WORKERS: the server listens where the platform says, with that many processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.serving.conftest import classification_project, wait_port

SERVE = (sys.executable, "-m", "mlci_action.serving")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(root: Path, env: dict[str, str], *flags: str) -> subprocess.Popen[bytes]:
    log = (root / "server.log").open("wb")
    schema = json.dumps({"kind": "python", "path": "schema.py", "name": "Features"})
    return subprocess.Popen(
        [
            *SERVE,
            *("--model", str(root / "model.skops"), "--name", "m", "--schema", schema),
            *("--project-dir", str(root), "--target", "label", *flags),
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def live(port: int, timeout: float) -> int:
    url = f"http://127.0.0.1:{port}/v2/health/live"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return int(response.status)


def test_port_and_workers_come_from_the_environment(tmp_path: Path) -> None:
    classification_project(tmp_path)
    port = free_port()
    server = serve(tmp_path, {"PORT": str(port), "WORKERS": "1"})
    try:
        assert wait_port(server, tmp_path / "server.log", timeout=180) == port
        assert "1 server process(es) (WORKERS)" in (tmp_path / "server.log").read_text()
        # a client that sends half a request holds no worker: others are answered meanwhile
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
        assert live(port, timeout=10) == 200
        slow.sendall(b"Connection: close\r\n\r\n")
        assert slow.recv(100).startswith(b"HTTP/1.1 200")
        slow.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_flag_wins_over_the_variable(tmp_path: Path) -> None:
    classification_project(tmp_path)
    port = free_port()
    server = serve(tmp_path, {"PORT": "1"}, "--port", str(port))
    try:
        assert wait_port(server, tmp_path / "server.log", timeout=180) == port
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"PORT": "http"}, "PORT='http': expected a whole number of at least 0"),
        ({"PORT": "70000"}, "PORT=70000: a port is at most 65535"),
        ({"WORKERS": "0"}, "WORKERS='0': expected a whole number of at least 1"),
        ({"MLCI_SERVE_TIMEOUT": "soon"}, "MLCI_SERVE_TIMEOUT='soon': expected a number greater"),
        ({"MLCI_SERVE_TIMEOUT": "nan"}, "MLCI_SERVE_TIMEOUT='nan': expected a number greater"),
        ({"MLCI_SERVE_MAX_BODY": "64M"}, "MLCI_SERVE_MAX_BODY='64M': expected a whole number"),
        ({"MLCI_SERVE_MAX_INFLIGHT": "0"}, "MLCI_SERVE_MAX_INFLIGHT='0': expected a whole"),
    ],
    ids=[
        "port-not-a-number",
        "port-too-large",
        "no-workers",
        "timeout-not-a-number",
        "timeout-nan",
        "body-with-unit",
        "no-inflight",
    ],
)
def test_unusable_settings_exit_2_with_the_reason(tmp_path: Path, env, words) -> None:
    done = subprocess.run(
        [*SERVE, "--model", "m.skops", "--name", "m", "--columns", '["a"]'],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and words in done.stderr, done.stderr
