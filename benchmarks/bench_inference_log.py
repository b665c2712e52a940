"""Inference logging on against off: the added latency of the hook on the request path.

    python benchmarks/bench_inference_log.py [--repeats 3] [--requests 2000] [--batches 30]
                                             [--writer-only]

The model and the requests are bench_serving.py's (a HistGradientBoostingClassifier on 20
numeric columns, V2 JSON, every request validated), served by ``python -m mlci_action.serving``
with WORKERS=1 three ways, all started at once and loaded in turn (interleaved: each load runs
on every server before the next load; the whole round ``--repeats`` times, medians):

- logging off (no MLCI_LOG_PATH, no reference profile);
- logging on: JSON Lines files (MLCI_LOG_PATH), no drift gauges;
- logging on with drift: the same files plus a reference profile (MLCI_REFERENCE, 10 bins per
  feature) and the default 5,000-row drift window.

Loads: single-row requests from 1 client (requests/s, p50, p99) and 1,000-row batches from
1 client (rows/s), as bench_serving.py sends them. The issue's goal: p50 within +5 % and p99
within +10 % of logging off. Every logged row is checked to have reached the files, and the
requests are checked to take the server's numeric fast path (a float matrix, as real images'
all-numeric models do), so logging is measured on the path it sits on in production.

First, in this process, the writer thread's CPU time per 1,000 rows, column-wise against the
per-row writer it replaced (inference_log_writer.py), and the drift gauges' part of it, now
against the per-column window it replaced (drift_gauges.py); ``--writer-only`` runs only
those.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import uvloop

from mlci_action.serving import protocol
from mlci_action.serving.model import ServedModel, ServingConfig, load

sys.path.insert(0, str(Path(__file__).resolve().parent))
import drift_gauges
import inference_log_writer
from bench_serving import (
    BATCH_ROWS,
    FEATURES,
    ROOT,
    Load,
    Server,
    _load,
    free_port,
    infer_request,
    make_model,
)


def reference(frame: Any, path: Path) -> Path:
    """A reference profile in the monitoring contract's format (mlci-reference/1)."""
    features = {}
    for name in FEATURES:
        values = frame[name].to_numpy()
        edges = np.unique(np.quantile(values, np.linspace(0, 1, 11)))
        index = np.clip(np.searchsorted(edges[1:-1], values, side="right"), 0, len(edges) - 2)
        features[name] = {
            "kind": "numeric",
            "edges": edges.tolist(),
            "counts": np.bincount(index, minlength=len(edges) - 1).tolist(),
            "missing": 0,
        }
    document = {
        "format": "mlci-reference/1",
        "rows": len(frame),
        "target": "y",
        "task": "classification",
        "positive_class": 1,
        "features": features,
        "prediction": {
            "kind": "categorical",
            "frequencies": {"0": 1, "1": 1},
            "other": 0,
            "missing": 0,
        },
        "probabilities": None,
        "metrics": {},
    }
    path.write_text(json.dumps(document))
    return path


def fast_path_model(work: Path, requests: list[bytes]) -> ServedModel:
    """The model as the servers load it; exits unless every request takes the fast path."""
    model = load(
        ServingConfig(
            model_path=work / "model.skops",
            name="m",
            schema={"kind": "yaml", "path": "schema.yaml"},
            project_dir=work,
            target="y",
        )
    )
    for raw in requests:
        parsed = protocol.parse_infer_request(raw.partition(b"\r\n\r\n")[2], None)
        if model.numeric is None or model.numeric.matrix(parsed) is None:
            raise SystemExit("the benchmark's requests do not take the numeric fast path")
    return model


def logged_rows(directory: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in directory.glob("*.jsonl"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--writer-only", action="store_true")
    args = parser.parse_args()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-log-"))
    frame = make_model(work)
    rows = frame.to_numpy()
    singles = [infer_request(rows[i : i + 1]) for i in range(args.requests)]
    starts = [(i * BATCH_ROWS) % (len(rows) - BATCH_ROWS + 1) for i in range(args.batches)]
    batches = [infer_request(rows[start : start + BATCH_ROWS]) for start in starts]
    profile = reference(frame, work / "reference.json")
    schema = json.dumps({"kind": "yaml", "path": "schema.yaml"})
    model = fast_path_model(work, [singles[0], batches[0]])
    print(
        f"## Inference log writer: CPU time per 1,000 logged rows ({platform.node()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, in one process, "
        f"interleaved, median of {max(args.repeats, 5)})\n"
    )
    print("\n".join(inference_log_writer.measure(model, rows, profile, max(args.repeats, 5))))
    print()
    print("\n".join(drift_gauges.measure(model, rows, profile, max(args.repeats, 5))))
    print()
    if args.writer_only:
        return 0
    settings = {
        "logging off": {},
        "logging on (JSONL)": {"MLCI_LOG_PATH": str(work / "log-on"), "MLCI_DRIFT_WINDOW": "0"},
        "logging on + drift": {
            "MLCI_LOG_PATH": str(work / "log-drift"),
            "MLCI_REFERENCE": str(profile),
        },
    }
    servers = []
    for name, env in settings.items():
        port = free_port()
        servers.append(
            Server(
                name,
                [
                    sys.executable,
                    *("-m", "mlci_action.serving", "--model", str(work / "model.skops")),
                    *("--name", "m", "--schema", schema, "--project-dir", str(work)),
                    *("--target", "y", "--port", str(port)),
                ],
                {"WORKERS": "1", "PYTHONPATH": str(ROOT), **env},
                port,
                work,
            )
        )
    loads: dict[str, Callable[[Server], Load]] = {
        "1 client": lambda s: asyncio.run(_load(s.port, singles, 1)),
        "batch": lambda s: asyncio.run(_load(s.port, batches, 1)),
    }
    results: dict[tuple[str, str], list[Load]] = {}
    try:
        for server in servers:
            server.start()
            asyncio.run(_load(server.port, singles[:200], 1))  # warm-up
        for _ in range(args.repeats):
            for load, run in loads.items():
                for server in servers:  # interleaved: each load on every server in turn
                    results.setdefault((server.name, load), []).append(run(server))
    finally:
        for server in servers:
            server.stop()  # SIGTERM: the writers finish their files
    sent = 200 + args.repeats * (args.requests + args.batches * BATCH_ROWS)
    report(servers, results, args)
    for name in ("log-on", "log-drift"):
        print(f"rows in {name}: {logged_rows(work / name):,} of {sent:,} sent")
    return 0


def report(
    servers: list[Server], results: dict[tuple[str, str], list[Load]], args: argparse.Namespace
) -> None:
    median = statistics.median
    print(
        f"## Inference logging on vs off ({platform.node()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, median of {args.repeats}, {args.requests} single-row "
        f"requests and {args.batches} x {BATCH_ROWS:,}-row batches a load)\n"
    )
    print("| server | 1 client: req/s | p50 ms | p99 ms | batches: rows/s | errors |")
    print("|:--|--:|--:|--:|--:|--:|")
    base50 = median([x.p50_ms for x in results[("logging off", "1 client")]])
    base99 = median([x.p99_ms for x in results[("logging off", "1 client")]])
    for server in servers:
        one, batch = results[(server.name, "1 client")], results[(server.name, "batch")]
        p50, p99 = median([x.p50_ms for x in one]), median([x.p99_ms for x in one])
        errors = sum(x.errors for x in one + batch)
        print(
            f"| {server.name} | {median([x.per_s for x in one]):.0f} | {p50:.2f} "
            f"({(p50 / base50 - 1) * 100:+.0f} %) | {p99:.2f} ({(p99 / base99 - 1) * 100:+.0f} %) | "
            f"{median([x.per_s for x in batch]) * BATCH_ROWS:,.0f} | {errors} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
