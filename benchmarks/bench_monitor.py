"""Benchmark of `mlci monitor` on a large inference log: a reference reader against this one.

    python benchmarks/bench_monitor.py [--rows N] [--repeats N] [--before REF] [--old]
                                       [--formats jsonl,parquet] [--keep DIR]

Writes an inference log of N rows (default 1,000,000) x 20 features (15 numeric, 5
categorical) in the monitoring contract's record format, as four JSONL files and as four
Parquet files (the time a timestamp column, as the serving image writes it), plus a reference profile of a 100,000-row training frame. Then runs
``mlci monitor`` (drift only: no probabilities, no labels) on each, in a fresh process:
"before" (mlci_action of REF, default ``main``, extracted with git archive) and "after" (this
checkout), interleaved, and prints per case the median wall time, rows/s and peak resident
memory of the process (wait4's rusage). "In-process" is `mlci monitor`'s main after its
imports (pandas, scipy, scikit-learn: seconds on a loaded machine, the same for every reader):
reading, tallying, judging, writing the report; its CPU seconds (all threads) beside it are the
figure to trust on a loaded machine. Each reader also reads a quarter of the Parquet log (one
file): its peak memory against the whole log's shows whether memory grows with the window.
``--old`` adds the first reader (commit 42d8483: json.loads per line into one DataFrame; minutes
per run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlci_action.monitoring.profile import build_profile
from mlci_action.serving.inference_log.parquet import TIME

ROOT = Path(__file__).resolve().parents[1]
OLD = "42d8483"
"""The last commit whose reader parsed each line with json.loads into one DataFrame."""
BEFORE = "main"
"""The reader the block reader's speed-up (one sort per block, needed columns) is compared to."""
NUMERIC = 15
LEVELS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
FILES = 4


def features(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {
        f"num_{i:02d}": rng.normal(i + (shift if i == 0 else 0.0), 1.0, rows).round(4)
        for i in range(NUMERIC)
    }
    for i in range(20 - NUMERIC):
        columns[f"cat_{i}"] = rng.choice(LEVELS, size=rows)
    return pd.DataFrame(columns)


def write_reference(path: Path) -> None:
    train = features(100_000, seed=1)
    train["y"] = (train["num_00"] > 0).astype(int)
    predictions = (features(20_000, seed=2)["num_00"] > 0).astype(int)
    profile = build_profile(
        train, "y", predictions, None, {}, task="classification", positive_class=1
    )
    path.write_text(profile.to_json(), encoding="utf-8")


def write_logs(root: Path, rows: int) -> tuple[Path, Path]:
    """The same records as JSONL and as Parquet, FILES files each."""
    jsonl, parquet = root / "jsonl", root / "parquet"
    parquet_string = root / "parquet-string"
    for folder in (jsonl, parquet, parquet_string):
        folder.mkdir(parents=True)
    per_file = rows // FILES
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 60))
    for part in range(FILES):
        frame = features(per_file, seed=10 + part, shift=0.3)
        names = list(frame.columns)
        ids = [f"req-{part}-{i}" for i in range(per_file)]
        predictions = (frame["num_00"] > 0).astype(int).tolist()
        values = frame.to_dict(orient="list")
        name = f"inference-20261128T110000-1-{part}"
        with (jsonl / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for i in range(per_file):
                record = {
                    "id": ids[i],
                    "row": 0,
                    "time": f"{stamp}.{i % 1_000_000:06d}Z",
                    "model": "bench",
                    "version": "1",
                    "image_digest": "",
                    "features": {n: values[n][i] for n in names},
                    "prediction": predictions[i],
                    "probabilities": None,
                }
                handle.write(json.dumps(record) + "\n")
        table = pa.table(
            {
                "id": ids,
                "row": [0] * per_file,
                "time": pa.array(  # a timestamp, as the serving image writes it
                    [
                        datetime.fromisoformat(f"{stamp}.{i % 1_000_000:06d}+00:00")
                        for i in range(per_file)
                    ],
                    type=TIME,
                ),
                "model": ["bench"] * per_file,
                "version": ["1"] * per_file,
                "image_digest": [""] * per_file,
                "features": pa.StructArray.from_arrays(
                    [pa.array(frame[n].to_numpy()) for n in names], names=names
                ),
                "prediction": predictions,
            }
        )
        pq.write_table(table, parquet / f"{name}.parquet")
        older = table.set_column(  # the RFC 3339 string serving images wrote before
            table.schema.get_field_index("time"),
            "time",
            pc.strftime(table["time"], "%Y-%m-%dT%H:%M:%SZ", "C"),  # %S has the microseconds
        )
        pq.write_table(older, parquet_string / f"{name}.parquet")
    return jsonl, parquet


def extract_old(commit: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", commit, "mlci_action"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def project(root: Path) -> Path:
    root.mkdir()
    (root / "mlci.yaml").write_text(
        "version: 1\nname: bench\ndata: {train: train.csv, test: test.csv, target: y}\n"
        "training: {estimator: sklearn.linear_model.LogisticRegression}\n"
        "evaluation: {task: classification, metrics: [accuracy]}\n"
        "monitoring: {min_rows: 500, drift: {psi: 0.2}}\n",
        encoding="utf-8",
    )
    return root


DRIVER = """
import sys, time
import pandas, scipy.stats, sklearn.metrics  # the imports are not the reader: timed apart
from mlci_action.cli import main
import mlci_action.commands.monitor
started, cpu = time.perf_counter(), time.process_time()
code = main(sys.argv[1:])
print(time.perf_counter() - started, time.process_time() - cpu)
sys.exit(code)
"""


def run_once(code: Path, config: Path, reference: Path, log: Path, out: Path) -> dict[str, float]:
    """One `mlci monitor` in a fresh process: its wall time, the time of `main` after the
    imports, and the process's peak resident memory."""
    env = {**os.environ, "PYTHONPATH": str(code), "NO_COLOR": "1", "COLUMNS": "200"}
    argv = [sys.executable, "-c", DRIVER, "monitor", "--config", str(config)]
    argv += ["--reference", str(reference), "--log", str(log), "--out", str(out)]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr, cwd=config)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        printed, errors = stdout.read().decode(), stderr.read().decode()
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed:\n{errors[-3000:]}")
    record = json.loads((out / "run.json").read_text())
    inside, cpu = printed.strip().splitlines()[-1].split()
    return {
        "wall": wall,
        "inside": float(inside),
        "cpu": float(cpu),
        "rss_mib": usage.ru_maxrss / 1024,
        "rows": float(record["counts"]["rows"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", default=BEFORE, help="the git ref whose reader is compared")
    parser.add_argument("--old", action="store_true", help=f"also the first reader ({OLD})")
    parser.add_argument(
        "--formats",
        default="jsonl,parquet,parquet-string",
        help="comma-separated; parquet-string: the time as the RFC 3339 string of older logs",
    )
    parser.add_argument("--keep", type=Path, help="write the logs here and keep them")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    work = args.keep or Path(tempfile.mkdtemp(prefix="mlci-bench-monitor-"))
    work.mkdir(parents=True, exist_ok=True)
    reference = work / "reference.json"
    if not (work / "log").exists():
        write_reference(reference)
        write_logs(work / "log", args.rows)
    logs = {kind: work / "log" / kind for kind in ("jsonl", "parquet", "parquet-string")}
    quarter = sorted(logs["parquet"].iterdir())[0]
    readers = {"before": extract_old(args.before, work / "before"), "after": ROOT}
    if args.old:
        readers = {"old": extract_old(OLD, work / "old"), **readers}
    config = work / "project"
    if not config.exists():
        project(config)
    cases: dict[tuple[str, str], tuple[Path, Path]] = {}
    for kind in formats:
        for reader, code in readers.items():
            cases[(reader, kind)] = (code, logs[kind])
    for reader, code in readers.items():
        cases[(reader, "parquet, 1/4")] = (code, quarter)
    found: dict[tuple[str, str], list[dict[str, float]]] = {case: [] for case in cases}
    for _ in range(args.repeats):  # interleaved: each repeat runs every case once
        for case, (code, log) in cases.items():
            result = run_once(code, config, reference, log, work / "out")
            found[case].append(result)
            print(  # progress on stderr: a long run shows where it is
                f"{case[0]} {case[1]}: {result['wall']:.1f} s wall, {result['inside']:.2f} s "
                f"in-process ({result['cpu']:.2f} s CPU), {result['rss_mib']:.0f} MiB, "
                f"load {os.getloadavg()[0]:.1f}",
                file=sys.stderr,
                flush=True,
            )
    size = sum(p.stat().st_size for p in logs["jsonl"].iterdir()) / 2**20
    psize = sum(p.stat().st_size for p in logs["parquet"].iterdir()) / 2**20
    print(
        f"\n`mlci monitor`, drift on 20 features (15 numeric, 5 categorical), {args.rows:,} "
        f"logged rows in {FILES} files (JSONL {size:.0f} MiB, Parquet {psize:.0f} MiB); "
        f"before = {args.before}; median of {args.repeats}, interleaved; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end.\n"
    )
    print(
        "| reader | log | rows | wall s | in-process s | in-process CPU s | rows/s (wall) "
        "| rows/s (in-process) | rows per CPU-s | peak RSS MiB |"
    )
    print("|:--|:--|--:|--:|--:|--:|--:|--:|--:|--:|")
    for (reader, kind), runs in found.items():
        wall = statistics.median(r["wall"] for r in runs)
        inside = statistics.median(r["inside"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rss = statistics.median(r["rss_mib"] for r in runs)
        rows = runs[0]["rows"]
        print(
            f"| {reader} | {kind} | {rows:,.0f} | {wall:.2f} | {inside:.2f} | {cpu:.2f} | "
            f"{rows / wall:,.0f} | {rows / inside:,.0f} | {rows / cpu:,.0f} | {rss:,.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
