"""The paired bootstrap at scale: the index bootstrap before issue 11 against count weights.

    python benchmarks/bench_evaluate.py [--rows 200000] [--resamples 1000] [--repeats 3]

Binary classification, ROWS test rows, RESAMPLES resamples, four metrics (accuracy, f1,
roc_auc, log_loss), a candidate and a baseline with continuous and with tied (rounded)
probabilities. "old" is mlci_action/worker/scoring.py and fast_scores.py as of commit
:data:`OLD` (one paired_bootstrap per metric over an index matrix), imported from a temporary
copy; "new" is paired_bootstrap_all of this checkout, multinomial and Poisson. Each case runs in
a fresh subprocess (its peak resident memory is its own), cases interleaved, median of
REPEATS. The subprocess reports the wall and CPU time of the bootstrap alone (data built and
modules imported before) and its growth in resident memory; the process's peak resident
memory is read by a wrapper process (getrusage RUSAGE_CHILDREN). "multinomial, 1 thread" holds
the bootstrap to one thread (MLCI_WORKER_THREADS=1), the others use every usable core.
"evaluate" is what the worker runs for these metrics since issue 13: the right test per metric
(McNemar for accuracy, DeLong for ROC AUC) and the multinomial bootstrap for the rest (f1,
log_loss), point values and curves included; the goal of issue 11 is judged on it.
"evaluate, before" is the same with the label metrics on row weights (``categories=False``)
and curves.py as of commit :data:`BEFORE`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD = "4877188"
"""The last commit with the index bootstrap (main before issue 11's evaluation work)."""
BEFORE = "cba966a"
"""Main before the per-category label metrics and the vectorized confusion matrix: its
curves.py is timed in "evaluate, before" (with the label metrics on row weights)."""
METRICS = ["accuracy", "f1", "roc_auc", "log_loss"]

CASE = """
import json, resource, sys, time
import numpy as np
rows, resamples, which = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
y = (rng.random(rows) < 0.3).astype(int)
p_c = np.clip(0.3 * y + 0.7 * rng.random(rows), 0, 1)
p_b = np.round(np.clip(0.15 * y + 0.85 * rng.random(rows), 0, 1), 2)  # ties, as trees give
args = (y, (p_c > 0.5).astype(int), np.c_[1 - p_c, p_c], (p_b > 0.5).astype(int), np.c_[1 - p_b, p_b])
metrics = {metrics!r}
import old_scoring.scoring as old
from mlci_action.worker.scoring import paired_bootstrap_all, metric_values
from mlci_action.metrics import CATALOG
from mlci_action.worker.compare import Paired, Settings, compare
import sklearn.metrics  # imported once by the long-lived worker, as the modules above
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started, cpu = time.perf_counter(), time.process_time()
if which == "old":
    found = {{m: old.paired_bootstrap(m, *args, resamples, 0.95, 0, np.array([0, 1])) for m in metrics}}
elif which.startswith("evaluate"):  # the worker: the right test per metric, bootstrap the rest
    import functools
    import mlci_action.worker.compare as comparing
    from mlci_action.worker.curves import classification_curves
    if which == "evaluate, before":  # label metrics on row weights, the old curves
        from old_scoring.curves import classification_curves
        comparing.bootstrap_deltas_all = functools.partial(
            comparing.bootstrap_deltas_all, categories=False)
    classes = np.array([0, 1])
    values = {{m: [metric_values(m, y, args[1], args[2], classes, 1),
                   metric_values(m, y, args[3], args[4], classes, 1)] for m in metrics}}
    paired = Paired(y, args[1], args[2], args[3], args[4], classes, 1)
    results = compare([CATALOG[m] for m in metrics], values, paired,
                      Settings(resamples, 0.95, 0, "multinomial"))
    classification_curves(y, [args[1], args[3]], [args[2], args[4]], classes, 1)
    found = {{m: [r.ci_low, r.ci_high, r.test] for m, r in results.items()}}
else:
    found = paired_bootstrap_all(metrics, *args, resamples, 0.95, 0, np.array([0, 1]), method=which)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "cpu": cpu, "growth_mb": (peak - base) / 1024,
                  "intervals": found}}))
"""


def old_package(where: Path) -> Path:
    """scoring.py and fast_scores.py as of OLD, importable as old_scoring."""
    package = where / "old_scoring"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("scoring.py", "fast_scores.py"):
        text = subprocess.run(
            ["git", "show", f"{OLD}:mlci_action/worker/{name}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        text = text.replace("mlci_action.worker.fast_scores", "old_scoring.fast_scores")
        (package / name).write_text(text)
    curves = subprocess.run(
        ["git", "show", f"{BEFORE}:mlci_action/worker/curves.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (package / "curves.py").write_text(curves)
    return where


WRAPPER = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True)
result = json.loads(done.stdout)
result["peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(result))
"""
"""Runs one case in a child and reports the child's peak resident memory (RUSAGE_CHILDREN)."""

CASES = {
    "old": ("old", None),
    "multinomial": ("multinomial", None),
    "poisson": ("poisson", None),
    "multinomial, 1 thread": ("multinomial", "1"),
    "evaluate, before": ("evaluate, before", None),
    "evaluate": ("evaluate", None),
}
"""Case -> (method, MLCI_WORKER_THREADS); None: every core the process may use."""


def run_case(case: str, rows: int, resamples: int, path: Path) -> dict[str, object]:
    which, threads = CASES[case]
    code = CASE.format(metrics=METRICS)
    env = {**os.environ, "PYTHONPATH": f"{path}{os.pathsep}{ROOT}"}
    env.pop("MLCI_WORKER_THREADS", None)
    if threads is not None:
        env["MLCI_WORKER_THREADS"] = threads
    argv = [sys.executable, "-c", code, str(rows), str(resamples), which]
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *argv], env=env, check=True, capture_output=True, text=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-old", action="store_true", help="leave out the old code (~40 s)")
    parser.add_argument("--only-evaluate", action="store_true", help="the two evaluate cases alone")
    args = parser.parse_args()
    cases = [case for case in CASES if case != "old" or not args.skip_old]
    if args.only_evaluate:
        cases = ["evaluate, before", "evaluate"]
    with tempfile.TemporaryDirectory(prefix="mlci-bench-eval-") as temporary:
        path = old_package(Path(temporary))
        samples: dict[str, list[dict[str, object]]] = {case: [] for case in cases}
        for _ in range(args.repeats):
            for case in cases:  # interleaved, so load hits every case alike
                samples[case].append(run_case(case, args.rows, args.resamples, path))
    load = os.getloadavg()[0]
    print(
        f"## Evaluate: paired bootstrap, {args.rows:,} test rows, {args.resamples:,} resamples, "
        f"{len(METRICS)} metrics ({platform.node()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, median of {args.repeats}, load {load:.1f})\n"
    )
    print("| method | median s | min s | median CPU s | peak RSS MB | RSS growth MB |")
    print("|:--|--:|--:|--:|--:|--:|")
    medians = {}
    for case, runs in samples.items():
        seconds = [float(str(run["seconds"])) for run in runs]
        peak = max(float(str(run["peak_mb"])) for run in runs)
        growth = max(float(str(run["growth_mb"])) for run in runs)
        cpu = statistics.median(float(str(run["cpu"])) for run in runs)
        medians[case] = statistics.median(seconds)
        print(
            f"| {case} | {medians[case]:.2f} | {min(seconds):.2f} | {cpu:.2f} | {peak:.0f} "
            f"| {growth:.0f} |"
        )
    print("\nIntervals (roc_auc):")
    for case, runs in samples.items():
        print(f"- {case}: {runs[0]['intervals']['roc_auc']}")  # type: ignore[index]
    new = medians["evaluate"]
    peak = max(float(str(run["peak_mb"])) for run in samples["evaluate"])
    verdict = "met" if new <= 2 and peak <= 500 else "NOT met"
    cpu = statistics.median(float(str(run["cpu"])) for run in samples["evaluate"])
    print(
        f"\ngoal (evaluate): <= 2 s and <= 500 MB; measured {new:.2f} s wall ({cpu:.2f} s CPU over all "
        f"threads), {peak:.0f} MB: {verdict} (load average {os.getloadavg()[0]:.1f})"
    )
    if "old" in medians:
        print(f"speed-up over the index bootstrap: {medians['old'] / new:.1f}x\n")
    if "multinomial" in medians:
        print(f"the bootstrap of all four metrics alone: {medians['multinomial']:.2f} s")
    before = medians["evaluate, before"]
    print(f"evaluate, before: {before:.2f} s; speed-up {before / new:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
