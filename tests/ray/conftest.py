"""One real two-node Ray cluster on loopback for the whole test session.

The head listens on 127.0.0.2, the second node on 127.0.0.3 (Ray rewrites 127.0.0.1 to the
machine's interface address; other loopback addresses keep every connection on loopback). Each
node has one CPU and a custom resource naming it, so a test can place a task. The nodes run
from this virtualenv's Ray (the client's version, as the executor's check requires), under a
temporary folder of their own; only the process groups started here are stopped (never a bare
`ray stop`, which would stop every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlci_action.executors.local import uv_bin
from tests.conftest import EXAMPLES, ROOT, git

LAUNCH = Path(__file__).with_name("launch_node.py")
HEAD, WORKER = "127.0.0.2", "127.0.0.3"
START_SECONDS = 240


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    ip: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Stop this node: its whole process group (ray start --block and what it started)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:  # the head drains for up to 30 s on SIGTERM (nothing of a test's is left to
                # drain): its processes have a few seconds to end, then the group is killed
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass
class Cluster:
    address: str
    """ray://127.0.0.2:<client port>"""
    head: Node
    worker: Node
    temp: Path


def _start(ip: str, args: list[str], temp: Path, name: str) -> Node:
    """A node with a temporary folder of its own: two nodes sharing one would share their
    runtime environments' folders, and one node's agent deletes the other's environment while
    its workers import from it (Ray names them by content; seen as ``No module named
    'scipy._lib.uarray'``)."""
    ports = [free_port(ip) for _ in range(7)]
    log = temp / f"{name}.log"
    env = {
        **os.environ,
        "RAY_agent_register_timeout_ms": "300000",
        "RAY_USAGE_STATS_ENABLED": "0",
        # a runtime environment that fails is not built again twice more (Ray's default: 3
        # tries, each a copy of this virtualenv and a pip run; the one failing test needs one)
        "RUNTIME_ENV_RETRY_TIMES": "1",
    }
    env.pop("RAY_ADDRESS", None)
    process = subprocess.Popen(
        [
            sys.executable,
            str(LAUNCH),
            str(ports[0]),
            *args,
            "--block",
            "--node-ip-address",
            ip,
            "--num-cpus",
            "1",
            "--temp-dir",
            str(temp / name),
            "--disable-usage-stats",
            "--dashboard-agent-grpc-port",
            str(ports[1]),
            "--metrics-export-port",
            str(ports[2]),
            "--runtime-env-agent-port",
            str(ports[3]),
            "--node-manager-port",
            str(ports[4]),
            "--object-manager-port",
            str(ports[5]),
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group: stopped as one, and only it
    )
    return Node(ip, process, log)


def _wait_for(node: Node, needle: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        text = node.log.read_text(encoding="utf-8", errors="replace")
        if needle in text:
            return
        if node.process.poll() is not None:
            raise RuntimeError(f"the Ray node on {node.ip} exited:\n{text[-3000:]}")
        time.sleep(1)
    raise RuntimeError(f"the Ray node on {node.ip} did not start in {START_SECONDS}s")


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    temp = tmp_path_factory.mktemp("ray")
    gcs, client = free_port(HEAD), free_port(HEAD)
    head = _start(
        HEAD,
        [
            "--head",
            "--port",
            str(gcs),
            "--ray-client-server-port",
            str(client),
            "--include-dashboard",
            "false",
            "--dashboard-host",  # the dashboard's head still runs (state API): on loopback too
            HEAD,
            "--dashboard-port",
            str(free_port(HEAD)),
            "--resources",
            '{"mlci-head": 1}',
        ],
        temp,
        "head",
    )
    worker = None
    try:
        _wait_for(head, "block forever")
        worker = _start(
            WORKER,
            ["--address", f"{HEAD}:{gcs}", "--resources", '{"mlci-worker": 1}'],
            temp,
            "worker",
        )
        _wait_for(worker, "block forever")
        yield Cluster(f"ray://{HEAD}:{client}", head, worker, temp)
    finally:
        for node in (worker, head):
            if node is not None:
                node.stop()


def stops_the_second_node(test):  # type: ignore[no-untyped-def]
    """Marks a test that stops the cluster's second node: it runs after every other test of
    the session (:func:`pytest_collection_modifyitems`), so none of them loses the node."""
    test.stops_the_second_node = True
    return test


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [
        item
        for item in items
        if getattr(item, "function", None) is not None
        and getattr(item.function, "stops_the_second_node", False)
    ]
    if last:
        items[:] = [item for item in items if item not in last] + last


def new_project(folder: Path, example: str = "classification") -> Path:
    """A git repository with one commit holding the example (tests.conftest.make_project,
    for fixtures wider than one test)."""
    shutil.copytree(
        EXAMPLES / example, folder, ignore=shutil.ignore_patterns(".mlci", "*.skops", "__pycache__")
    )
    git(folder, "init", "--quiet", "--initial-branch=main")
    git(folder, "add", "-A")
    git(folder, "commit", "--quiet", "-m", "baseline")
    return folder


def run_mlci(
    *args: str, cache: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `mlci` CLI (tests.conftest.mlci, for fixtures wider than one test)."""
    defaults = {"COLUMNS": "200", "NO_COLOR": "1", "MLCI_EXECUTOR": "local"}
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mlci"), *args],
        env={**os.environ, "MLCI_CACHE_DIR": str(cache), **defaults, **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="session")
def action_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter like the action image's: a virtualenv with requirements/action.txt only
    (no Ray Client, no numpy; mlci itself comes from the source tree on PYTHONPATH). From uv's
    cache: a few seconds."""
    venv = tmp_path_factory.mktemp("action-image") / "venv"
    uv = uv_bin()
    subprocess.run(
        [uv, "venv", "--quiet", "--python", str(ROOT / ".venv" / "bin" / "python"), str(venv)],
        check=True,
    )
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--no-deps", "--python", str(venv / "bin" / "python"),
         "--requirement", str(ROOT / "requirements" / "action.txt")],
        check=True,
    )  # fmt: skip
    return venv / "bin" / "python"


@contextlib.contextmanager
def cluster_runtime(project: Path, work: Path, cluster: Cluster) -> Iterator[Any]:
    """The ray executor's runtime for ``project`` on the session cluster, closed afterwards."""
    from mlci_action.config import load_config
    from mlci_action.executors import create

    config = load_config(project)
    executor = create(config, work / "cache", {"RAY_ADDRESS": cluster.address})
    runtime = executor.prepare(project, config, work / "logs" / "env.log")
    try:
        yield runtime
    finally:
        runtime.close()
