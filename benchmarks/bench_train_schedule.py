"""How to train the candidate and the baseline on a small machine: three schedules, side by side.

    python benchmarks/bench_train_schedule.py [--repeats N] [--rows 10000,100000]

A synthetic project of 20 numeric columns (binary target) and a training script fitting
scikit-learn's ``HistGradientBoostingClassifier`` (OpenMP-threaded), run as the train stage runs
it: one process per side (the baseline with other parameters), Python start and imports
included. The schedules, interleaved within each repeat (medians of ``--repeats``):

- ``parallel``: both at once, each free to start a thread per core (mlci before 11);
- ``parallel, split threads``: both at once, each with ``OMP_NUM_THREADS`` (and the BLAS
  counts) = cores // 2;
- ``sequential``: one after the other, each with every core.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

TRAIN = """\
import json, sys
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
data = np.load(sys.argv[1])
params = json.loads(sys.argv[2])
model = HistGradientBoostingClassifier(random_state=0, early_stopping=False, **params)
model.fit(data["x"], data["y"])
"""
SIDES = ({"max_iter": 60, "learning_rate": 0.1}, {"max_iter": 60, "learning_rate": 0.05})
"""The candidate's and the baseline's parameters: the same amount of work, other models."""


def write_data(folder: Path, rows: int) -> Path:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows, n_features=20, n_informative=12, random_state=0, flip_y=0.05
    )
    path = folder / f"train-{rows}.npz"
    import numpy as np

    np.savez(path, x=x, y=y)
    return path


def _env(threads: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in THREADS}
    if threads is not None:
        env.update({name: str(threads) for name in THREADS})
    return env


def _start(
    script: Path, data: Path, params: dict[str, float], threads: int | None
) -> subprocess.Popen[bytes]:
    import json

    return subprocess.Popen(
        [sys.executable, str(script), str(data), json.dumps(params)], env=_env(threads)
    )


def _wait(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"training failed ({proc.args})")


def schedules(script: Path, data: Path, cores: int) -> dict[str, Callable[[], None]]:
    def parallel() -> None:
        _wait(*(_start(script, data, p, None) for p in SIDES))

    def split() -> None:
        _wait(*(_start(script, data, p, max(1, cores // 2)) for p in SIDES))

    def sequential() -> None:
        for p in SIDES:
            _wait(_start(script, data, p, None))

    return {
        "parallel": parallel,
        "parallel, split threads": split,
        "sequential": sequential,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", default="10000,100000")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(
        f"{cores} cores, CPython {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    with tempfile.TemporaryDirectory(prefix="mlci-bench-train-") as tmp:
        folder = Path(tmp)
        script = folder / "train.py"
        script.write_text(TRAIN, encoding="utf-8")
        for rows in (int(r) for r in args.rows.split(",")):
            data = write_data(folder, rows)
            cases = schedules(script, data, cores)
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(args.repeats):
                for name, run in cases.items():  # interleaved: noise falls on every case
                    started = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - started)
            base = statistics.median(times["parallel"])
            print(f"\n{rows:,} training rows, 20 columns, both sides ({args.repeats} repeats)\n")
            print("| schedule | median s | min s | max s | vs parallel |")
            print("|:--|--:|--:|--:|--:|")
            for name, values in times.items():
                median = statistics.median(values)
                print(
                    f"| {name} | {median:.2f} | {min(values):.2f} | {max(values):.2f} "
                    f"| {median / base:.2f}x |"
                )
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
