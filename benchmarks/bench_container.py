"""The docker executor before and after the warm, lean container path, side by side.

    python benchmarks/bench_container.py [--rows 100000] [--repeats 3] [--before GIT_REF]

"before" is mlci at ``--before`` (default: the commit this branch started from), unpacked with
``git archive`` into a temporary folder; "after" is this checkout. Both run ``mlci run --base
HEAD~1 --no-cache`` with ``MLCI_EXECUTOR=docker`` on the same synthetic project (ROWS training
rows, ROWS/4 test rows, 20 numeric columns, a gradient-boosting classifier or --estimator,
candidate and baseline both trained), interleaved, and the medians are printed: the whole run, the stages, and mlci's
own peak memory (ru_maxrss of the mlci process). Then the import of pandas, scikit-learn,
pandera and skops in a sandbox container of each side's environment image (read-only root
filesystem, as in a run). Each side's environment image is built in a warm-up run first.
Needs Docker and the base image (scripts/services.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = (
    "import time; t = time.perf_counter(); "
    "import pandas, sklearn.ensemble, pandera.pandas, skops.io, mlci_action.worker.evaluate; "
    "print(time.perf_counter() - t)"
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def make_project(root: Path, rows: int, base_image: str, estimator: str) -> Path:
    rng = np.random.default_rng(0)
    project = root / "repo"
    (project / "data").mkdir(parents=True)
    for name, n in (("train", rows), ("test", rows // 4)):
        x = rng.normal(size=(n, 20))
        y = (x[:, :5].sum(axis=1) + rng.normal(scale=1.0, size=n) > 0).astype(int)
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(20)]).round(5)
        frame["label"] = y
        frame.to_csv(project / "data" / f"{name}.csv", index=False)
    (project / "requirements.txt").write_text("scikit-learn\npandas\n")
    (project / "mlci.yaml").write_text(
        "version: 1\nname: bench-container\n"
        "data: {train: data/train.csv, test: data/test.csv, target: label}\n"
        "environment: {requirements: [requirements.txt]}\n"
        f"training:\n  estimator: {estimator}\n"
        "evaluation: {task: classification, metrics: [accuracy, f1, roc_auc, log_loss]}\n"
        "gates: {accuracy: {threshold: 0.5}}\n"
        f"deploy: {{base_image: {base_image}}}\n"
    )
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "baseline")
    git(project, "commit", "--quiet", "--allow-empty", "-m", "candidate")
    return project


def mlci_run(source: Path, project: Path, env: dict[str, str]) -> dict[str, float]:
    """One ``mlci run`` of the mlci code at ``source``: seconds, stage seconds, peak MiB."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlci_action",
            "run",
            str(project),
            "--base",
            "HEAD~1",
            "--no-cache",
        ],
        cwd=project,
        env={**env, "PYTHONPATH": str(source)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode() if child.stderr else ""
    if child.returncode not in (0, 1):
        raise SystemExit(f"mlci run ({source}) failed ({child.returncode}):\n{stderr[-3000:]}")
    record = json.loads((project / ".mlci" / "out" / "run.json").read_text())
    figures = {"run": seconds, "mlci peak MiB": usage.ru_maxrss / 1024}
    for name, stage in record["stages"].items():
        figures[name] = float(stage.get("seconds") or 0.0)
    return figures


def import_seconds(image: str, *, ignore_bytecode: bool) -> float:
    env = ["-e", "PYTHONDONTWRITEBYTECODE=1"]
    if ignore_bytecode:  # as an image without bytecode: every import compiles in memory
        env += ["-e", "PYTHONPYCACHEPREFIX=/tmp/no-bytecode"]
    sandbox = ["--rm", "--read-only", "--network", "none", "--cap-drop", "ALL"]
    done = subprocess.run(
        ["docker", "run", *sandbox, *env, image, "python", "-c", IMPORTS],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def environment_image(project: Path) -> str:
    record = json.loads((project / ".mlci" / "out" / "run.json").read_text())
    key = record["environment"]["key"]
    return f"mlci-env/bench-container:{key[:20]}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", default="60ecd43")
    parser.add_argument("--base-image", default="mlci-base:bookworm")
    parser.add_argument(
        "--estimator",
        default="sklearn.ensemble.HistGradientBoostingClassifier",
        help="a cheap one (sklearn.linear_model.LogisticRegression) isolates the executor's cost",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-container-"))
    before = work / "before"
    before.mkdir()
    archive = subprocess.run(
        ["git", "archive", args.before, "mlci_action"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
    sides = {"before": before, "after": ROOT}
    project = make_project(work, args.rows, args.base_image, args.estimator)
    env = {
        **os.environ,
        "MLCI_CACHE_DIR": str(work / "cache"),
        "NO_COLOR": "1",
        "MLCI_EXECUTOR": "docker",
    }
    images = {}
    for name, source in sides.items():  # warm-up: builds each side's environment image
        mlci_run(source, project, env)
        images[name] = environment_image(project)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    imports: dict[str, list[float]] = {"before": [], "after": [], "after, bytecode ignored": []}
    for _ in range(args.repeats):
        for name, source in sides.items():
            results[name].append(mlci_run(source, project, env))
        imports["before"].append(import_seconds(images["before"], ignore_bytecode=False))
        imports["after"].append(import_seconds(images["after"], ignore_bytecode=False))
        imports["after, bytecode ignored"].append(
            import_seconds(images["after"], ignore_bytecode=True)
        )
    print(
        f"## docker executor, {args.rows:,} train rows, {args.estimator}, medians of {args.repeats}"
    )
    keys = [k for k in results["after"][0] if all(k in r for r in results["before"])]
    print("| | before | after |\n|--|--|--|")
    for key in keys:
        medians = [statistics.median(r[key] for r in results[name]) for name in sides]
        print(f"| {key} | {medians[0]:.1f} | {medians[1]:.1f} |")
    print("\n## import pandas, sklearn, pandera, skops, mlci's evaluate in a sandbox container")
    print("| image | seconds |\n|--|--|")
    for name, values in imports.items():
        print(f"| {name} | {statistics.median(values):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
