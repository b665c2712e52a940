"""`mlci run` against the same work done by hand, at 10k / 100k / 1M training rows.

    python benchmarks/bench_scale.py [--rows 10000,100000] [--repeats 3] [--skip-docker]

A synthetic project per size: 20 numeric columns and a binary target in CSV files (test = 20 %
of train), a training script fitting scikit-learn's ``HistGradientBoostingClassifier`` with
the parameters of ``params.yaml``, four metrics (accuracy, f1, roc_auc, log_loss). The
baseline is the committed ``params.yaml``; the candidate changes it in the work tree.

- "by hand": train the candidate, train the baseline, score both models on the test file, in
  the environment mlci built (same Python, same packages), one process per step;
- ``mlci run --no-cache --base HEAD`` with the local executor, and with the docker executor
  (the environment built once before, as a warm cache; ``--no-cache`` retrains both sides).

The cases are interleaved within each repeat; medians of ``--repeats``. After each size, the
stage timings of the last run of each executor (its ``run.json``) show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MLCI = [sys.executable, "-m", "mlci_action"]

TRAIN = '''\
"""Fit a gradient-boosting classifier on the MLCI_* inputs."""
import json, os
import pandas as pd
import skops.io
from sklearn.ensemble import HistGradientBoostingClassifier

params = json.load(open(os.environ["MLCI_PARAMS_PATH"])) if "MLCI_PARAMS_PATH" in os.environ else {}
train = pd.read_csv(os.environ["MLCI_TRAIN_PATH"])
target = os.environ.get("MLCI_TARGET", "target")
model = HistGradientBoostingClassifier(random_state=0, early_stopping=False, **params)
model.fit(train.drop(columns=[target]), train[target])
skops.io.dump(model, os.environ["MLCI_MODEL_PATH"])
'''

SCORE = """\
import sys
import pandas as pd
import skops.io
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
test = pd.read_csv(sys.argv[1])
y = test.pop("target")
for path in sys.argv[2:]:
    model = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    predicted, proba = model.predict(test), model.predict_proba(test)[:, 1]
    print(accuracy_score(y, predicted), f1_score(y, predicted), roc_auc_score(y, proba),
          log_loss(y, proba))
"""

CONFIG = """\
version: 1
name: scale
data:
  train: data/train.csv
  test: data/test.csv
  target: target
environment:
  requirements: [requirements.txt]
training:
  command: python train.py
  params_file: params.yaml
evaluation:
  task: classification
  metrics: [accuracy, f1, roc_auc, log_loss]
gates:
  accuracy:
    threshold: 0.5
"""
BASELINE = {"max_iter": 100, "learning_rate": 0.1}
CANDIDATE = {"max_iter": 100, "learning_rate": 0.08}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def make_project(folder: Path, rows: int) -> Path:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    project = folder / f"scale-{rows}"
    (project / "data").mkdir(parents=True)
    test_rows = rows // 5
    x, y = make_classification(
        n_samples=rows + test_rows, n_features=20, n_informative=12, flip_y=0.05, random_state=0
    )
    frame = pd.DataFrame(x.astype(np.float32), columns=[f"x{i:02d}" for i in range(20)])
    frame["target"] = y
    frame.iloc[:rows].to_csv(project / "data" / "train.csv", index=False)
    frame.iloc[rows:].to_csv(project / "data" / "test.csv", index=False)
    (project / "train.py").write_text(TRAIN, encoding="utf-8")
    (project / "mlci.yaml").write_text(CONFIG, encoding="utf-8")
    (project / "requirements.txt").write_text("pandas>=2.1\nscikit-learn>=1.3\nskops>=0.10\n")
    write_params(project, BASELINE)
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "baseline")
    write_params(project, CANDIDATE)  # the candidate: a change in the work tree
    return project


def write_params(project: Path, params: dict[str, float]) -> None:
    lines = "".join(f"{key}: {value}\n" for key, value in params.items())
    (project / "params.yaml").write_text(lines, encoding="utf-8")


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def by_hand(project: Path, python: str, env: dict[str, str]) -> float:
    """Train both sides and score both models, as a team without mlci would."""
    work = project.parent / f"{project.name}-hand"
    work.mkdir(exist_ok=True)
    seconds = 0.0
    models = []
    for side, params in (("candidate", CANDIDATE), ("baseline", BASELINE)):
        (work / f"{side}.json").write_text(json.dumps(params), encoding="utf-8")
        models.append(str(work / f"{side}.skops"))
        side_env = {
            **env,
            "MLCI_TRAIN_PATH": str(project / "data" / "train.csv"),
            "MLCI_TARGET": "target",
            "MLCI_PARAMS_PATH": str(work / f"{side}.json"),
            "MLCI_MODEL_PATH": models[-1],
        }
        seconds += timed([python, "train.py"], project, side_env)
    score = work / "score.py"
    score.write_text(SCORE, encoding="utf-8")
    test = str(project / "data" / "test.csv")
    return seconds + timed([python, str(score), test, *models], project, env)


def stage_seconds(out: Path) -> str:
    """The stage timings of a run's run.json, as one line."""
    try:
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "(no run.json)"
    stages = record.get("stages") or []
    if isinstance(stages, dict):
        stages = [{"name": name, **value} for name, value in stages.items()]
    parts = [
        f"{stage.get('name', '?')} {float(stage.get('seconds') or 0):.1f}"
        for stage in stages
        if isinstance(stage, dict)
    ]
    return ", ".join(parts) or "(no stage timings)"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-docker", action="store_true")
    args = parser.parse_args()
    docker = not args.skip_docker and shutil.which("docker") is not None
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-scale-"))
    base_env = {**os.environ, "MLCI_CACHE_DIR": str(work / "cache"), "NO_COLOR": "1"}
    print(
        f"## mlci run vs by hand ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load average {os.getloadavg()[0]:.1f} at the start)\n"
    )
    rows_out = []
    for rows in (int(r) for r in args.rows.split(",")):
        project = make_project(work, rows)
        envs = {"local": {**base_env, "MLCI_EXECUTOR": "local"}}
        if docker:
            envs["docker"] = {**base_env, "MLCI_EXECUTOR": "docker"}
        run = [*MLCI, "run", str(project), "--no-cache", "--base", "HEAD", "--out"]
        for name, env in envs.items():  # warm-up: builds the environment once, not measured
            timed([*run, str(work / f"out-{name}")], project, env)
        python = str(next((work / "cache" / "envs").glob("*/bin/python")))
        cases: dict[str, Callable[[], float]] = {
            "by hand": lambda project=project, python=python: by_hand(project, python, base_env),
        }
        for name, env in envs.items():
            argv = [*run, str(work / f"out-{name}")]
            cases[f"mlci run, {name}"] = partial(timed, argv, project, env)
        repeats = args.repeats
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeats):
            for name, case in cases.items():  # interleaved: the load falls on every case
                samples[name].append(case())
        medians = {name: statistics.median(values) for name, values in samples.items()}
        hand = medians["by hand"]
        line = f"| {rows:,} | {hand:.1f} |"
        for name, budget in (("local", (1.10, 3)), ("docker", (1.20, 5))):
            found = medians.get(f"mlci run, {name}")
            if found is None:
                line += " - |"
                continue
            limit = budget[0] * hand + budget[1]
            verdict = "met" if found <= limit else "**missed**"
            line += f" {found:.1f} ({found / hand:.2f}x, limit {limit:.1f}: {verdict}) |"
        rows_out.append(line)
        print(f"{rows:,} rows, {repeats} repeats: " + json.dumps(samples))
        for name in envs:
            print(f"  {name} stages (last run): {stage_seconds(work / f'out-{name}')}")
        sys.stdout.flush()
        shutil.rmtree(project, ignore_errors=True)
    print("\n| training rows | by hand s | mlci run, local s | mlci run, docker s |")
    print("|--:|--:|:--|:--|")
    print("\n".join(rows_out))
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
