"""Data tests and scoring of a partitioned Parquet data set on a Ray cluster: 1 node vs 2.

    python benchmarks/bench_ray_scale.py [--rows N] [--files F] [--repeats R] [--cache DIR]
                                         [--resamples B] [--overhead] [--overhead-only]

Generates once (into --cache, default build/bench-ray-scale/ROWS): N training and N test rows x
20 columns (19 numeric features, a binary target) in F Parquet files each, and two models (a
logistic regression and a depth-3 tree, fitted on 50,000 rows). Starts its own loopback
cluster (``ray start --head`` on 127.0.0.2 and, for the 2-node case, ``ray start --address``
on 127.0.0.3, one CPU each, its own temporary folder and ports), and stops exactly the
processes it started (their process groups, by PID).

Each repeat times, for 1 node and for 2 nodes (interleaved; the second node is started or
stopped between cases):

- the data tests (columns, leakage, the schema-free checks of partitioned data: one checker
  task per partition, :func:`mlci_action.partitioned.data_tests`);
- the scoring (one scorer task per test partition, the answers merged on the runner into the
  metrics, :func:`mlci_action.partitioned.evaluate`; ``--resamples`` Poisson bootstrap
  resamples, 0 by default: the bootstrap runs on the runner, the same for 1 or 2 nodes).

After the second node starts, one untimed scoring run warms its workers.

It prints rows/s (median of the repeats) and the peak memory of each node's Ray worker
processes (the sum of their resident sets, sampled every 0.2 s from /proc) and of the runner.
``--overhead`` also times ``mlci run`` of the classification example with ``executor: ray``
against ``local`` (interleaved, median of the repeats, after one warm-up run each).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / "tests" / "ray" / "launch_node.py"
HEAD, WORKER = "127.0.0.2", "127.0.0.3"
FEATURES = 19
TARGET = "label"


# ------------------------------------------------------------------------------------ data


def ensure_data(folder: Path, rows: int, files: int) -> Path:
    """The project folder (generated once): data/{train,test}/part-*.parquet, the models."""
    done = folder / "done"
    if done.is_file():
        write_config(folder)
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    from mlci_action.worker.modelio import save_model

    weights = np.random.default_rng(0).normal(size=FEATURES)
    for name, seed in (("train", 1), ("test", 2)):
        target = folder / "data" / name
        target.mkdir(parents=True)
        generator = np.random.default_rng(seed)
        per = -(-rows // files)
        for index in range(files):
            size = min(per, rows - index * per)
            values = generator.normal(size=(size, FEATURES))
            frame = pd.DataFrame(values, columns=[f"x{i:02d}" for i in range(FEATURES)])
            noisy = values @ weights + generator.normal(scale=2.0, size=size)
            frame[TARGET] = (noisy > 0).astype(np.int64)
            frame.to_parquet(target / f"part-{index:04d}.parquet", index=False)
    sample = pd.read_parquet(folder / "data" / "train" / "part-0000.parquet").iloc[:50_000]
    X, y = sample.drop(columns=TARGET), sample[TARGET]
    save_model(LogisticRegression(max_iter=300).fit(X, y), folder / "candidate.skops")
    save_model(DecisionTreeClassifier(max_depth=3).fit(X, y), folder / "baseline.skops")
    write_config(folder)
    done.write_text("ok\n")
    return folder


def write_config(folder: Path) -> None:
    (folder / "mlci.yaml").write_text(
        "name: bench\ndata:\n  train: data/train\n  test: data/test\n  target: label\n"
        "training:\n  command: 'true'\nenvironment:\n  executor: ray\n"
        "evaluation:\n  task: classification\n  metrics: [accuracy]\n"
    )


# ------------------------------------------------------------------------------- cluster


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Node:
    """One ``ray start --block`` in a process group of its own."""

    def __init__(self, ip: str, args: list[str], temp: Path, name: str) -> None:
        ports = [free_port(ip) for _ in range(7)]
        self.log = temp / f"{name}.log"
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS", None)
        argv = [
            *(sys.executable, str(LAUNCH), str(ports[0])),
            *args,
            *("--block", "--node-ip-address", ip, "--num-cpus", "1"),
            *("--temp-dir", str(temp / name), "--disable-usage-stats"),
            *("--dashboard-agent-grpc-port", str(ports[1])),
            *("--metrics-export-port", str(ports[2])),
            *("--runtime-env-agent-port", str(ports[3])),
            *("--node-manager-port", str(ports[4])),
            *("--object-manager-port", str(ports[5])),
        ]
        self.process = subprocess.Popen(
            argv,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 240
        while "block forever" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the Ray node on {ip} did not start:\n{self.log.read_text()}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def _workers(group: int) -> list[int]:
    """The Ray worker processes (``ray::…``) of a node's process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            command = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except (OSError, ProcessLookupError):
            continue
        if command.startswith(b"ray::"):
            found.append(int(entry.name))
    return found


class Peaks:
    """Peak resident memory of each node's workers (summed) and of this process."""

    def __init__(self, nodes: dict[str, Node]) -> None:
        self.nodes = nodes
        self.peak = dict.fromkeys([*nodes, "runner"], 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for name, node in self.nodes.items():
                total = sum(_rss(pid) for pid in _workers(node.process.pid))
                self.peak[name] = max(self.peak[name], total)
            self.peak["runner"] = max(self.peak["runner"], _rss(os.getpid()))

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_for_cpus(count: int) -> None:
    import ray

    deadline = time.monotonic() + 120
    while int(ray.cluster_resources().get("CPU", 0)) != count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the cluster did not reach {count} CPUs")
        time.sleep(0.5)


# ------------------------------------------------------------------------------ measure


def runtime(project: Path) -> Any:
    from mlci_action.config import load_config
    from mlci_action.executors.ray_cluster.runtime import RayRuntime, Session
    from mlci_action.record import EnvironmentInfo

    info = EnvironmentInfo(key="bench", python=sys.executable, executor="ray", reused=True)
    # no runtime environment: the nodes run this virtualenv's Python, which has mlci
    return RayRuntime(info, load_config(project), Session(project), env={})


def cases(project: Path, resamples: int) -> dict[str, Callable[[Any], None]]:
    from mlci_action.executors.tasks import DataTests, Evaluate
    from mlci_action.partitioned import data_tests, evaluate

    off = {"enabled": False}
    checks = {name: off for name in ("duplicates", "constant", "categories", "target", "drift")}
    tests = DataTests(
        project_dir=str(project),
        train_path="data/train",
        test_path="data/test",
        target=TARGET,
        task="classification",
        checks={**checks, "leakage": {"max_rows": 0}},
        partitioned=True,
    )
    scoring = Evaluate(
        test_path=str(project / "data" / "test"),
        target=TARGET,
        task="classification",
        metrics=["accuracy", "f1", "roc_auc", "log_loss"],
        bootstrap={"resamples": resamples, "seed": 0, "method": "poisson"},
        candidate_model=str(project / "candidate.skops"),
        baseline_model=str(project / "baseline.skops"),
        partitioned=True,
    )
    return {
        "data tests": lambda run: data_tests(run, tests),
        "scoring": lambda run: evaluate(run, scoring),
    }


def scale(args: argparse.Namespace, temp: Path, nodes: dict[str, Node]) -> None:
    """``nodes``: the nodes started here (the caller stops what is left in it)."""
    import ray

    project = ensure_data(Path(args.cache) / str(args.rows), args.rows, args.files)
    gcs, client = free_port(HEAD), free_port(HEAD)
    head_args = [
        *("--head", "--port", str(gcs), "--ray-client-server-port", str(client)),
        *("--include-dashboard", "false", "--dashboard-host", HEAD),
        *("--dashboard-port", str(free_port(HEAD))),
    ]
    nodes["head"] = Node(HEAD, head_args, temp, "head")
    ray.init(address=f"ray://{HEAD}:{client}", logging_level="ERROR")
    measured = cases(project, args.resamples)
    times: dict[tuple[str, int], list[float]] = {}
    peaks: dict[tuple[str, int], dict[str, int]] = {}
    worker_args = ["--address", f"{HEAD}:{gcs}"]
    for repeat in range(args.repeats):
        for count in (1, 2) if repeat % 2 == 0 else (2, 1):  # interleaved, few node restarts
            started_worker = count == 2 and "worker" not in nodes
            if started_worker:
                nodes["worker"] = Node(WORKER, worker_args, temp, f"worker-{repeat}")
            if count == 1 and "worker" in nodes:
                nodes.pop("worker").stop()
            wait_for_cpus(count)
            if count == 2 and started_worker:  # a new node's first workers import for seconds
                measured["scoring"](runtime(project))  # not timed
            for name, case in measured.items():
                run = runtime(project)
                with Peaks(dict(nodes)) as sampled:
                    started = time.perf_counter()
                    case(run)
                    seconds = time.perf_counter() - started
                times.setdefault((name, count), []).append(seconds)
                best = peaks.setdefault((name, count), {})
                for key, value in sampled.peak.items():
                    best[key] = max(best.get(key, 0), value)
                print(
                    f"  repeat {repeat + 1}, {count} node(s), {name}: {seconds:.1f} s", flush=True
                )
    ray.shutdown()
    rows = {"data tests": 2 * args.rows, "scoring": args.rows}
    print(
        f"\n## Partitioned data on Ray, 1 node vs 2 ({platform.node()}, {os.cpu_count()} CPUs, "
        f"{args.rows:,} rows x 20 columns per data set in {args.files} Parquet files, "
        f"1 CPU per node, median of {args.repeats})\n"
    )
    print(
        "| case | nodes | median s | rows/s | speed-up | peak MB head | peak MB 2nd | peak MB runner |"
    )
    print("|:--|--:|--:|--:|--:|--:|--:|--:|")
    for name in measured:
        one = statistics.median(times[(name, 1)])
        for count in (1, 2):
            median = statistics.median(times[(name, count)])
            peak = peaks[(name, count)]
            second = f"{peak['worker'] / 2**20:.0f}" if "worker" in peak else "-"
            print(
                f"| {name} | {count} | {median:.1f} | {rows[name] / median:,.0f} | "
                f"{one / median:.2f}x | {peak['head'] / 2**20:.0f} | {second} | "
                f"{peak['runner'] / 2**20:.0f} |"
            )
    print()


def overhead(args: argparse.Namespace, temp: Path, nodes: dict[str, Node]) -> None:
    """`mlci run` of the classification example, executor ray against local."""
    gcs, client = free_port(HEAD), free_port(HEAD)
    for node in nodes.values():
        node.stop()
    nodes.clear()
    head_args = [
        *("--head", "--port", str(gcs), "--ray-client-server-port", str(client)),
        *("--include-dashboard", "false", "--dashboard-host", HEAD),
        *("--dashboard-port", str(free_port(HEAD))),
    ]
    nodes["head"] = Node(HEAD, head_args, temp, "head-overhead")
    nodes["worker"] = Node(WORKER, ["--address", f"{HEAD}:{gcs}"], temp, "worker-overhead")
    project = temp / "repo"
    shutil.copytree(
        ROOT / "examples" / "classification",
        project,
        ignore=shutil.ignore_patterns(".mlci", "*.skops"),
    )
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@x.invalid", *argv],
            cwd=project,
            check=True,
        )
    base = {**os.environ, "MLCI_CACHE_DIR": str(temp / "cache"), "NO_COLOR": "1"}
    envs = {
        "local": {**base, "MLCI_EXECUTOR": "local"},
        "ray": {**base, "MLCI_EXECUTOR": "ray", "RAY_ADDRESS": f"ray://{HEAD}:{client}"},
    }
    argv = [sys.executable, "-m", "mlci_action", "run", str(project), "--no-cache"]

    def timed(env: dict[str, str]) -> float:
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True)
        if done.returncode not in (0, 1):
            raise SystemExit(f"mlci run failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return time.perf_counter() - started

    for env in envs.values():
        timed(env)  # warm-up: environments built once
    samples: dict[str, list[float]] = {name: [] for name in envs}
    for _ in range(args.repeats):
        for name, env in envs.items():
            samples[name].append(timed(env))
    local = statistics.median(samples["local"])
    print(
        f"## executor: ray vs local, `mlci run --no-cache` of the classification example (median of {args.repeats})\n"
    )
    print("| executor | median s | min s | vs local |")
    print("|:--|--:|--:|--:|")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {min(values):.2f} | {median / local:.2f}x |")
    print()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=0)
    parser.add_argument("--cache", default=str(ROOT / "build" / "bench-ray-scale"))
    parser.add_argument("--overhead", action="store_true")
    parser.add_argument("--overhead-only", action="store_true", help="skip the 1 vs 2 nodes part")
    args = parser.parse_args()
    temp = Path(tempfile.mkdtemp(prefix="mlci-bench-ray-"))
    nodes: dict[str, Node] = {}
    try:
        if not args.overhead_only:
            scale(args, temp, nodes)
        if args.overhead or args.overhead_only:
            overhead(args, temp, nodes)
    finally:
        for node in nodes.values():
            node.stop()
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
