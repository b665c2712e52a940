"""Benchmark of the data-tests worker task on a large synthetic dataset.

    python benchmarks/bench_datatests.py [--rows N] [--keep DIR]

Generates a training file of N rows x 20 columns (16 numeric, 4 categorical), a test file of
N/4 rows and a baseline training file of N rows (one column shifted), plus a matching pandera
YAML schema (dtype, not-null, range or isin per column). Then it times:

(a) pure schema validation of the training frame in memory, clean and with ~1 % bad rows;
(b) the whole task as mlci runs it: ``python -m mlci_action.worker data-tests`` in a fresh
    process (reading three CSV files, schema, leakage, target and drift checks), with that
    process's peak resident memory.

It prints a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlci_action.worker.checks.schema import schema_check
from mlci_action.worker.checks.table import Table

NUMERIC = 16
CATEGORICAL = 4
LEVELS = ["alpha", "beta", "gamma", "delta", "epsilon"]
TARGET = "label"


def make_frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(NUMERIC - 1):
        columns[f"num_{i:02d}"] = rng.normal(i + (shift if i == 0 else 0.0), 1.0, rows).round(5)
    for i in range(CATEGORICAL):
        columns[f"cat_{i}"] = rng.choice(LEVELS, rows)
    columns[TARGET] = rng.integers(0, 3, rows)
    return pd.DataFrame(columns)


def make_schema() -> pa.DataFrameSchema:
    columns = {
        f"num_{i:02d}": pa.Column(float, pa.Check.in_range(i - 10, i + 10), nullable=False)
        for i in range(NUMERIC - 1)
    }
    columns |= {
        f"cat_{i}": pa.Column(str, pa.Check.isin(LEVELS), nullable=False)
        for i in range(CATEGORICAL)
    }
    columns[TARGET] = pa.Column(int, pa.Check.isin([0, 1, 2]), nullable=False)
    return pa.DataFrameSchema(columns)


def best_of(action: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def pandera_only(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> None:
    with contextlib.suppress(pa.errors.SchemaErrors):
        schema.validate(frame.copy(deep=False), lazy=True, inplace=True)


def run_worker(directory: Path) -> dict[str, Any]:
    request = {
        "project_dir": str(directory),
        "train_path": "train.csv",
        "test_path": "test.csv",
        "target": TARGET,
        "task": "classification",
        "schema": {"kind": "yaml", "path": "schema.yaml"},
        "checks": {
            "leakage": {"enabled": True, "max_rows": 0},
            "target": {
                "enabled": True,
                "max_missing": 0.0,
                "min_class_share": 0.0,
                "max_shift": 0.25,
            },
            "drift": {
                "enabled": True,
                "ks_threshold": 0.2,
                "psi_threshold": 0.2,
                "fail_on_drift": False,
            },
        },
        "baseline_train_path": "baseline.csv",
    }
    (directory / "request.json").write_text(json.dumps(request), encoding="utf-8")
    result_path = directory / "result.json"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mlci_action.worker",
            "data-tests",
            str(directory / "request.json"),
            str(result_path),
        ],
        check=False,
    )
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    payload = json.loads(result_path.read_text(encoding="utf-8"))
    if not payload["ok"]:
        raise SystemExit(f"the worker failed: {payload['message']}")
    return {"wall": wall, "peak_mib": peak_kib / 1024, "report": payload["result"]}


def time_schema_check(schema: pa.DataFrameSchema, path: Path) -> list[tuple[str, float]]:
    frame = pd.read_csv(path)  # with the dtypes the worker sees
    rows = len(frame)
    dirty = frame.copy()
    bad = np.random.default_rng(4).choice(rows, size=max(rows // 100, 1), replace=False)
    dirty.loc[bad, "num_00"] = 1e6
    dirty.loc[bad, "cat_0"] = "unknown"
    clean, broken = Table(frame, path, path.name), Table(dirty, path, path.name)
    failures = schema_check(schema, broken, "train", "schema.yaml").failures
    assert sum(failure.count for failure in failures) == 2 * len(bad), failures
    return [
        (
            "pandera `validate(lazy=True)` alone, clean",
            best_of(lambda: pandera_only(schema, frame)),
        ),
        (
            "schema check (validate + grouping), clean",
            best_of(lambda: schema_check(schema, clean, "train", "schema.yaml")),
        ),
        (
            "schema check, 1 % of rows bad in 2 columns",
            best_of(lambda: schema_check(schema, broken, "train", "schema.yaml")),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows")
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args(argv)
    rows: int = args.rows

    with tempfile.TemporaryDirectory(prefix="mlci-bench-") as tmp:
        directory: Path = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        width = NUMERIC + CATEGORICAL
        print(f"generating {rows:,} x {width} rows in {directory} ...", file=sys.stderr)
        schema = make_schema()
        make_frame(rows, seed=1).to_csv(directory / "train.csv", index=False)
        make_frame(rows // 4, seed=2).to_csv(directory / "test.csv", index=False)
        make_frame(rows, seed=3, shift=0.5).to_csv(directory / "baseline.csv", index=False)
        schema.to_yaml(directory / "schema.yaml")
        megabytes = (directory / "train.csv").stat().st_size / 2**20

        print("timing the schema check ...", file=sys.stderr)
        timings = time_schema_check(schema, directory / "train.csv")

        print("running the worker task ...", file=sys.stderr)
        worker = run_worker(directory)

    report = worker["report"]
    total = rows * 2 + report["rows"]["test"]  # train, test and baseline files
    print(
        f"\n{platform.python_implementation()} {platform.python_version()}, "
        f"pandas {pd.__version__}, pandera {version('pandera')}, "
        f"{rows:,} x {NUMERIC + CATEGORICAL} columns, train.csv {megabytes:.0f} MiB\n"
    )
    print("| measurement | rows | seconds | rows/s |")
    print("| --- | ---: | ---: | ---: |")
    for label, seconds in timings:
        print(f"| (a) {label} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} |")
    for label, seconds in (
        ("whole task in the worker (the report's `seconds`)", report["seconds"]),
        ("whole task, fresh worker process incl. imports", worker["wall"]),
    ):
        print(f"| (b) {label} | {total:,} | {seconds:.2f} | {total / seconds:,.0f} |")
    print(f"\npeak resident memory of the worker process: {worker['peak_mib']:,.0f} MiB")
    print(f"{len(report['checks'])} checks, report passed: {report['passed']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
