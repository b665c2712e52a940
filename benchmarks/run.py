"""`make bench`: mlci's speed, measured side by side in one run (the machine is shared/noisy).

    python benchmarks/run.py [--repeats N] [--rows N] [--skip-images] [--scale 10000,100000]

1. Overhead: `mlci run` on the classification example against its training script plus a
   scoring script run directly in the same environment, interleaved, median of N.
   Also: a PR push where the baseline model is cached, a cold run with a baseline, and an
   unchanged rerun (cache hit) to a full report.
2. Data tests on ROWS x 20 columns (benchmarks/bench_datatests.py).
   Evaluation: the paired bootstrap at 200,000 test rows, old against new
   (benchmarks/bench_evaluate.py).
   With --scale ROWS: `mlci run` (local and docker executors) against the same work by hand on
   synthetic 20-column projects of ROWS training rows (benchmarks/bench_scale.py).
   With --ray-scale ROWS: data tests and scoring of ROWS x 20 Parquet rows on 1 vs 2 loopback
   Ray nodes, and `mlci run` with executor ray vs local (benchmarks/bench_ray_scale.py).
3. Images and serving (benchmarks/bench_images.py): serving image rebuild after a model-only
   change, bytes pushed for it, image size against its parts, V2 serving latency and
   throughput. Needs Docker, the base image and the registry (scripts/services.sh); skipped
   with a line saying why when they are missing, or with --skip-images.
4. `mlci monitor` on 1,000,000 logged rows x 20 features, JSONL and Parquet, main's reader
   against this checkout's, and peak memory on the whole log against a quarter of it
   (benchmarks/bench_monitor.py).
5. Serving against MLServer (benchmarks/bench_serving.py): the same model served by mlci and
   by MLServer 1.7.1 (benchmark-only venv under build/), single rows from 1 and 8 clients,
   1,000-row batches, stalled clients and oversized bodies.
   Inference logging on against off (benchmarks/bench_inference_log.py): single-row latency
   and batch throughput with JSONL logging, with and without the drift gauges.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MLCI = [sys.executable, "-m", "mlci_action"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--skip-images", action="store_true", help="leave out the Docker image benchmarks"
    )
    parser.add_argument(
        "--ray-scale",
        metavar="ROWS",
        type=int,
        help="also data tests and scoring of ROWS Parquet rows on 1 vs 2 loopback Ray nodes, "
        "and executor ray vs local (benchmarks/bench_ray_scale.py; minutes)",
    )
    parser.add_argument(
        "--scale",
        metavar="ROWS",
        help="also mlci run vs by hand at these training rows, e.g. 10000,100000,1000000 "
        "(benchmarks/bench_scale.py; minutes per size)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-"))
    env = {
        **os.environ,
        "MLCI_CACHE_DIR": str(work / "cache"),
        "NO_COLOR": "1",
        "MLCI_EXECUTOR": "local",
    }
    project = work / "repo"
    shutil.copytree(
        ROOT / "examples" / "classification",
        project,
        ignore=shutil.ignore_patterns(".mlci", "*.skops"),
    )
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "baseline")

    # warm-up: builds the environment once (not what is measured) and finds its python
    timed([*MLCI, "run", str(project)], project, env)
    python = str(next((work / "cache" / "envs").glob("*/bin/python")))
    model = work / "direct.skops"
    direct_env = {
        **env,
        "MLCI_TRAIN_PATH": str(project / "data" / "train.csv"),
        "MLCI_TARGET": "diagnosis",
        "MLCI_MODEL_PATH": str(model),
    }

    def direct() -> float:
        return timed([python, "train.py"], project, direct_env) + timed(
            [
                python,
                str(ROOT / "benchmarks" / "score_direct.py"),
                str(model),
                str(project / "data" / "test.csv"),
                "diagnosis",
            ],
            project,
            env,
        )

    counter = iter(range(10_000))

    def pr_push() -> float:
        # a new candidate (params change), baseline model already in the cache
        (project / "params.yaml").write_text(f"C: {1.0 - next(counter) / 1000}\nmax_iter: 1000\n")
        return timed([*MLCI, "run", str(project), "--base", "HEAD"], project, env)

    cases: dict[str, Callable[[], float]] = {
        "by hand: train.py + score.py": direct,
        "mlci run, no baseline (--no-cache)": lambda: timed(
            [*MLCI, "run", str(project), "--no-cache"], project, env
        ),
        "mlci run, baseline cached (PR push)": pr_push,
        "mlci run, cold, with baseline (--no-cache --base HEAD)": lambda: timed(
            [*MLCI, "run", str(project), "--no-cache", "--base", "HEAD"], project, env
        ),
        "mlci run, unchanged (cache hit)": lambda: timed(
            [*MLCI, "run", str(project), "--base", "HEAD"], project, env
        ),
    }
    timed([*MLCI, "run", str(project), "--base", "HEAD"], project, env)  # fills the baseline cache
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, case in cases.items():  # interleaved, so load hits every case alike
            samples[name].append(case())
    medians = {name: statistics.median(values) for name, values in samples.items()}
    hand = medians["by hand: train.py + score.py"]
    print(
        f"## mlci run overhead ({platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, median of {args.repeats})\n"
    )
    print("| case | median s | min s | vs by hand |")
    print("|:--|--:|--:|--:|")
    for name, values in samples.items():
        print(f"| {name} | {medians[name]:.2f} | {min(values):.2f} | {medians[name] / hand:.2f}x |")
    budget = 1.10 * hand + 3
    nobase = medians["mlci run, no baseline (--no-cache)"]
    print(
        f"\ngoal: mlci run <= 1.10 x by hand + 3 s = {budget:.2f} s; measured {nobase:.2f} s: "
        f"{'met' if nobase <= budget else 'NOT met'}"
    )
    hit = medians["mlci run, unchanged (cache hit)"]
    print(
        f"goal: cache hit to a full report <= 2 s; measured {hit:.2f} s: {'met' if hit <= 2 else 'NOT met'}\n"
    )
    sys.stdout.flush()
    repeats = ("--repeats", str(args.repeats))
    bench("bench_datatests.py", "--rows", str(args.rows))
    bench("bench_evaluate.py", *repeats)
    shutil.rmtree(work, ignore_errors=True)
    if args.scale:
        bench(
            "bench_scale.py",
            "--rows",
            args.scale,
            *repeats,
            *(["--skip-docker"] if args.skip_images else []),
        )
    if args.ray_scale:
        bench("bench_ray_scale.py", "--rows", str(args.ray_scale), "--overhead", *repeats)
    bench("bench_monitor.py", *repeats)
    bench("bench_serving.py", *repeats)
    bench("bench_inference_log.py", *repeats)
    if args.skip_images:
        print("Image benchmarks skipped: --skip-images.\n")
    else:  # prints its own "skipped" line when Docker, the base image or the registry is missing
        bench("bench_images.py", *repeats)
        bench("bench_action.py", *repeats)
    return 0


def bench(script: str, *args: str) -> None:
    """Run one benchmark script of this folder; its figures go to stdout as it prints them."""
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], check=True)
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
