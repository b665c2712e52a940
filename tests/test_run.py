"""`mlci run` end to end: the real CLI on real git repositories with real uv environments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci_action.record import DataReport
from tests.conftest import git


def read_run(project: Path) -> dict:
    return json.loads((project / ".mlci" / "out" / "run.json").read_text())


def commit_change(project: Path, path: str, old: str, new: str, message: str = "change") -> None:
    file = project / path
    text = file.read_text()
    assert old in text, f"{old!r} not in {path}"
    file.write_text(text.replace(old, new))
    git(project, "commit", "--quiet", "-am", message)


def test_change_against_baseline_passes_with_full_record(make_project, mlci):
    project = make_project("classification")
    # as in a real repository: the bytecode that running the project writes is not a change
    (project / ".gitignore").write_text("__pycache__/\n")
    git(project, "add", ".gitignore")
    commit_change(project, "params.yaml", "C: 1.0", "C: 0.5", "stronger regularisation")
    # the session's cache is shared and content-addressed: another test may have run this
    # very change already, so the first run here is forced
    done = mlci("run", str(project), "--base", "HEAD~1", "--no-cache")
    assert done.returncode == 0, done.stderr
    run = read_run(project)
    assert run["verdict"] == "pass"
    assert list(run["stages"]) == [
        "source",
        "environment",
        "data_tests",
        "train",
        "evaluate",
        "model_tests",
        "gates",
        "package",
        "deploy",
        "report",
    ]
    statuses = {name: stage["status"] for name, stage in run["stages"].items()}
    assert statuses.pop("package") == statuses.pop("deploy") == "skipped"  # no --package
    assert set(statuses.values()) == {"passed"}
    assert all(stage["seconds"] >= 0 for stage in run["stages"].values())
    accuracy = run["metrics"]["accuracy"]
    assert {"baseline", "candidate", "delta", "ci_low", "ci_high"} <= set(accuracy)
    assert (
        accuracy["candidate"] > 0.9
        and accuracy["ci_low"] <= accuracy["delta"] <= accuracy["ci_high"]
    )
    assert {g["name"] for g in run["gates"]} == {"accuracy", "roc_auc"}
    assert all(g["passed"] for g in run["gates"])
    assert run["data"]["passed"] and run["data"]["checks"]
    assert run["model_tests"]["passed"] == 5 and run["model_tests"]["failed"] == 0
    assert run["cache"]["hit"] is False and len(run["cache"]["key"]) == 40
    assert run["params"] == {"C": {"baseline": "1.0", "candidate": "0.5"}}
    assert run["baseline"]["sha"] == git(project, "rev-parse", "HEAD~1")
    assert run["candidate"]["dirty"] is False
    out = project / ".mlci" / "out"
    assert (out / "models" / "candidate.skops").is_file() and (
        out / "models" / "baseline.skops"
    ).is_file()
    report = (out / "report.md").read_text()
    assert report.startswith("## ✅ mlci · breast\\-cancer: pass")
    assert "| accuracy ↑ |" in report and "```text\nchange in % of the baseline" in report
    assert "### Data checks: ✅" in report and "### Model tests: ✅ 5 passed" in report
    # one count of the data checks: the stage, the summary line and the report agree
    tally = DataReport.model_validate(run["data"]).tally
    assert tally.endswith(f"{len(run['data']['checks'])} passed")
    assert run["stages"]["data_tests"]["reason"] == tally
    assert tally in run["summary"] and f"### Data checks: ✅ {tally}" in report
    assert "report:" in done.stderr and "accuracy" in done.stderr  # the terminal summary table
    # the curves of both models, as Mermaid charts and in run.json
    kinds = [chart["kind"] for chart in run["curves"]["charts"]]
    assert kinds == ["roc", "precision_recall", "calibration"]
    assert all(chart["baseline"] for chart in run["curves"]["charts"])
    assert report.count("```mermaid\n") == 3 and "**Confusion matrix**" in report
    matrix = run["curves"]["confusion"]
    assert sum(map(sum, matrix["candidate"])) == sum(map(sum, matrix["baseline"]))

    # the same content under another commit: everything comes from the cache, the report
    # says so, and this run (not the cached one) is the one reported
    old_sha = git(project, "rev-parse", "HEAD")
    git(project, "commit", "--quiet", "--amend", "-m", "stronger regularisation, reworded")
    new_sha = git(project, "rev-parse", "HEAD")
    assert new_sha != old_sha
    # started_at is in whole seconds: the first run (two trainings) took more than one
    assert run["seconds"] >= 1
    again = mlci("run", str(project), "--base", "HEAD~1")
    assert again.returncode == 0, again.stderr
    cached = read_run(project)
    assert cached["cache"] == {**run["cache"], "hit": True}
    assert cached["metrics"] == run["metrics"]
    assert "reused from cache" in (out / "report.md").read_text()
    assert "results reused from the cache" in again.stderr
    assert_a_hit_names_this_run_and_reuses_only_results(project, run, cached, new_sha, old_sha)

    # --no-cache: a full run again, and the seeded bootstrap gives the same intervals
    fresh = mlci("run", str(project), "--base", "HEAD~1", "--no-cache")
    assert fresh.returncode == 0, fresh.stderr
    rerun = read_run(project)
    assert rerun["cache"]["hit"] is False
    assert rerun["cache"]["trained"] == {"candidate": True, "baseline": True}
    assert rerun["metrics"] == run["metrics"]


def assert_a_hit_names_this_run_and_reuses_only_results(
    project: Path, before: dict, run: dict, new_sha: str, old_sha: str
) -> None:
    """A cache hit under another commit (``run``) against the run that stored it (``before``)."""
    assert run["candidate"] == {**before["candidate"], "sha": new_sha}
    assert run["baseline"] == before["baseline"]
    assert run["started_at"] > before["started_at"] and run["seconds"] < before["seconds"]
    for part in ("verdict", "summary", "metrics", "gates", "params"):
        assert run[part] == before[part], part
    # the results are the cached run's; every time in the record is this run's: none spent
    assert before["data"]["seconds"] > 0 and run["data"] == {**before["data"], "seconds": 0.0}
    assert any(t["seconds"] > 0 for t in before["model_tests"]["tests"])
    assert run["model_tests"] == {
        **before["model_tests"],
        "tests": [{**t, "seconds": 0.0} for t in before["model_tests"]["tests"]],
    }
    assert run["environment"] == before["environment"]
    statuses = {name: (stage["status"], stage["seconds"]) for name, stage in run["stages"].items()}
    assert statuses.pop("source")[0] == statuses.pop("report")[0] == "passed"
    assert statuses.pop("package")[0] == statuses.pop("deploy")[0] == "skipped"
    assert set(statuses.values()) == {("cached", 0.0)}  # reused: no time spent in this run
    assert run["artifacts"] == before["artifacts"]
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert f"@ `{new_sha[:12]}`" in report and old_sha[:12] not in report
    assert "reused from cache" in report and run["started_at"] in report


def test_regression_example_with_estimator_and_no_baseline(make_project, mlci):
    project = make_project("regression")
    done = mlci("run", str(project))
    assert done.returncode == 0, done.stderr
    run = read_run(project)
    assert run["verdict"] == "pass" and run["baseline"] is None
    assert set(run["metrics"]) == {"rmse", "mae", "r2"}
    assert run["metrics"]["r2"]["baseline"] is None and run["metrics"]["r2"]["delta"] is None
    rmse_gate = next(g for g in run["gates"] if g["name"] == "rmse")
    assert "no baseline" in rmse_gate["reason"]
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert "No baseline" in report
    charts = run["curves"]["charts"]
    assert [c["kind"] for c in charts] == ["predicted_vs_actual", "residuals", "error_by_decile"]
    assert all(c["baseline"] is None for c in charts)
    assert report.count("```mermaid\n") == 3 and "grey&#58; baseline" not in report


def test_a_regression_breaks_the_gate(make_project, mlci):
    project = make_project("classification")
    commit_change(project, "params.yaml", "C: 1.0", "C: 0.0005", "far too much regularisation")
    done = mlci("run", str(project), "--base", "HEAD~1")
    assert done.returncode == 1
    run = read_run(project)
    assert run["verdict"] == "fail"
    accuracy_gate = next(g for g in run["gates"] if g["name"] == "accuracy")
    assert not accuracy_gate["passed"] and "max_regression" in accuracy_gate["reason"]
    assert run["stages"]["gates"]["status"] == "failed"
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert report.startswith("## ❌") and "### What failed" in report

    # reused from the cache, a failed gate still fails the run
    again = mlci("run", str(project), "--base", "HEAD~1")
    assert again.returncode == 1 and "results reused from the cache" in again.stderr
    rerun = read_run(project)
    assert rerun["cache"]["hit"] is True and rerun["verdict"] == "fail"
    assert rerun["stages"]["gates"] == {**run["stages"]["gates"], "seconds": 0.0}
    assert rerun["stages"]["evaluate"]["status"] == "cached"
    assert rerun["summary"] == run["summary"]


def test_a_failing_model_test_fails_the_verdict(make_project, mlci):
    project = make_project("classification")
    (project / "tests" / "test_extra.py").write_text(
        "def test_impossible(model, X_test, y_test):\n    assert model.score(X_test, y_test) > 1.5\n"
    )
    done = mlci("run", str(project))
    assert done.returncode == 1
    run = read_run(project)
    assert run["model_tests"]["failed"] == 1
    failed = next(t for t in run["model_tests"]["tests"] if t["outcome"] == "failed")
    assert failed["nodeid"].endswith("test_impossible")
    # training and evaluation still ran: the failure is a finding, not a crash
    assert run["stages"]["evaluate"]["status"] == "passed"
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert "test\\_impossible" in report


MARK_TRAINING = "import pathlib\npathlib.Path('TRAINED').write_text('the training command ran')\n"


def mark_training(project: Path) -> Path:
    """Make the project's training command leave a file behind: proof that it ran."""
    train = project / "train.py"
    train.write_text(MARK_TRAINING + train.read_text())
    return project / "TRAINED"


def test_a_failing_data_check_stops_the_run_before_training(make_project, mlci):
    project = make_project("classification")
    trained = mark_training(project)
    train = project / "data" / "train.csv"
    lines = train.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("mean_radius")] = "-5.0"
    lines[1] = ",".join(row)
    train.write_text("\n".join(lines) + "\n")
    done = mlci("run", str(project))
    assert done.returncode == 1, done.stderr
    run = read_run(project)
    assert run["data"]["passed"] is False
    schema = next(c for c in run["data"]["checks"] if c["kind"] == "schema" and not c["passed"])
    failure = next(f for f in schema["failures"] if f["column"] == "mean_radius")
    assert failure["count"] == 1 and "-5.0" in " ".join(failure["examples"])
    stages = run["stages"]
    assert stages["data_tests"]["status"] == "failed"
    assert stages["train"]["status"] == "skipped"
    assert "data_tests" in stages["train"]["reason"]
    assert all(stages[name]["status"] == "skipped" for name in ("evaluate", "model_tests"))
    assert not trained.exists()
    assert not (project / ".mlci" / "out" / "logs" / "train-candidate.log").exists()
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert "mean\\_radius" in report


def test_a_header_only_training_file_fails_before_training(make_project, mlci):
    """Preflight may refuse the file (exit 2) or the data tests fail it (exit 1): either way
    nothing is trained."""
    project = make_project("classification")
    trained = mark_training(project)
    train = project / "data" / "train.csv"
    train.write_text(train.read_text().splitlines()[0] + "\n")
    done = mlci("run", str(project))
    assert done.returncode in (1, 2), done.stderr
    assert "Traceback" not in done.stderr
    assert not trained.exists()
    assert not any(line.startswith("✔ train") for line in done.stderr.splitlines())
    if done.returncode == 1:
        run = read_run(project)
        assert run["stages"]["train"]["status"] == "skipped"
        assert run["stages"]["data_tests"]["status"] == "failed"


TRACEBACK_TRAIN = """\
for n in range(30):
    print(f"epoch {n:02d}")


def fit(rate):
    if rate < 0:
        raise ValueError(f"learning rate must be positive, got {rate}")


fit(-1)
"""


def test_a_failed_training_shows_the_end_of_its_output_on_the_console(make_project, mlci):
    project = make_project("classification")
    (project / "train.py").write_text(TRACEBACK_TRAIN)
    done = mlci("run", str(project))
    assert done.returncode == 1
    console = done.stderr
    assert "ValueError: learning rate must be positive, got -1" in console
    assert "line 7, in fit" in console and "epoch 29" in console  # the last lines
    assert "epoch 03" not in console  # not all of it: run.json and the report keep more
    assert "epoch 03" in read_run(project)["stages"]["train"]["log_tail"]


def test_drift_between_baseline_and_candidate_data_is_reported(make_project, mlci):
    project = make_project("regression")
    train = project / "data" / "train.csv"
    lines = train.read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("bmi")
    shifted = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        cells[col] = f"{float(cells[col]) + 8:.1f}"
        shifted.append(",".join(cells))
    train.write_text("\n".join(shifted) + "\n")
    git(project, "commit", "--quiet", "-am", "new data")
    done = mlci("run", str(project), "--base", "HEAD~1")
    run = read_run(project)
    drift = [c for c in run["data"]["checks"] if c["kind"] == "drift" and not c["passed"]]
    assert [c["column"] for c in drift] == ["bmi"], done.stderr
    assert drift[0]["severity"] == "warning" and drift[0]["statistic"] > drift[0]["threshold"]
    assert "bmi" in (project / ".mlci" / "out" / "report.md").read_text()


# --- bad input: exit 2, a message naming what and where, nothing written -----------------


def assert_unusable(done, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.fixture
def project_with_old_run(make_project):
    project = make_project("classification")
    out = project / ".mlci" / "out"
    out.mkdir(parents=True)
    (out / "run.json").write_text('{"old": true}')
    return project


def untouched(project: Path) -> bool:
    return (project / ".mlci" / "out" / "run.json").read_text() == '{"old": true}'


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda p: (p / "mlci.yaml").unlink(), ["no mlci.yaml", "mlci init"]),
        (lambda p: (p / "mlci.yaml").write_text("name: [x\n"), ["not valid YAML", "mlci.yaml:"]),
        (
            lambda p: (p / "mlci.yaml").write_text((p / "mlci.yaml").read_text() + "extra: 1\n"),
            ["extra: unknown key"],
        ),
        (
            lambda p: (p / "mlci.yaml").write_text(
                (p / "mlci.yaml").read_text().replace("threshold: 0.9 ", "threshold: high ")
            ),
            ["gates.accuracy.threshold", "'high'"],
        ),
        (
            lambda p: (p / "data" / "test.csv").unlink(),
            ["test.csv: data file not found", "data.test"],
        ),
        (lambda p: (p / "data" / "train.csv").write_text(""), ["train.csv: data file is empty"]),
        (
            lambda p: (p / "data" / "test.csv").write_text(
                (p / "data" / "test.csv").read_text().splitlines()[0] + "\n\n"
            ),
            ["test.csv: data file has a header but no data rows", "data.test"],
        ),
        (
            lambda p: (p / "data" / "train.csv").write_text(
                (p / "data" / "train.csv").read_text().replace("diagnosis", "label")
            ),
            ["target column 'diagnosis' is not in the header", "data.target"],
        ),
        (
            lambda p: (p / "schema.py").write_text("class Broken(:\n"),
            ["schema.py:1:", "syntax error", "py_compile"],
        ),
        (
            lambda p: (p / "schema.py").write_text("import pandera.pandas as pa\n"),
            ["schema.py", "BreastCancerSchema"],
        ),
    ],
    ids=[
        "config-missing",
        "config-not-yaml",
        "config-unknown-key",
        "config-wrong-type",
        "data-missing",
        "data-empty",
        "data-header-only",
        "target-absent",
        "schema-syntax-error",
        "schema-class-missing",
    ],
)
def test_unusable_input_exits_2_and_writes_nothing(project_with_old_run, mlci, edit, words):
    edit(project_with_old_run)
    done = mlci("run", str(project_with_old_run))
    assert_unusable(done, *words)
    assert untouched(project_with_old_run)


def test_unparseable_data_exits_2(project_with_old_run, mlci):
    test_csv = project_with_old_run / "data" / "test.csv"
    test_csv.write_text(test_csv.read_text() + '1,2,"unterminated\n')
    done = mlci("run", str(project_with_old_run))
    assert_unusable(done, "test.csv", "cannot be parsed")
    assert untouched(project_with_old_run)


def test_baseline_ref_that_does_not_exist(project_with_old_run, mlci):
    done = mlci("run", str(project_with_old_run), "--base", "no-such-branch")
    assert_unusable(done, "baseline ref 'no-such-branch' does not exist", "fetch-depth")
    assert untouched(project_with_old_run)


def test_baseline_asked_outside_git(make_project, mlci):
    project = make_project("classification", git_init=False)
    done = mlci("run", str(project), "--base", "main")
    assert_unusable(done, "not inside a git repository", "git init")


# --- failures of the project's code: a fail verdict with the reason in the report ----------

FAILING_TRAIN = "import sys\nprint('loading data')\nprint('boom: bad hyper-parameter', file=sys.stderr)\nsys.exit(3)\n"
SILENT_TRAIN = "print('trained, but forgot to save')\n"
GARBAGE_TRAIN = "import os\nopen(os.environ['MLCI_MODEL_PATH'], 'wb').write(b'not a zip')\n"
UNTRUSTED_TRAIN = """\
import os, skops.io
from sklearn.linear_model import LogisticRegression
import pandas as pd
from custom import Wrapper
frame = pd.read_csv(os.environ["MLCI_TRAIN_PATH"])
y = frame.pop(os.environ["MLCI_TARGET"])
skops.io.dump(Wrapper(LogisticRegression(max_iter=2000).fit(frame, y)), os.environ["MLCI_MODEL_PATH"])
"""
CUSTOM = """\
class Wrapper:
    def __init__(self, inner):
        self.inner = inner
    def predict(self, X):
        return self.inner.predict(X)
"""
NAN_TRAIN = """\
import os, numpy as np, pandas as pd, skops.io
from sklearn.linear_model import LogisticRegression
frame = pd.read_csv(os.environ["MLCI_TRAIN_PATH"])
y = frame.pop(os.environ["MLCI_TARGET"])
model = LogisticRegression(max_iter=2000).fit(frame, y)
model.coef_[:] = np.nan
skops.io.dump(model, os.environ["MLCI_MODEL_PATH"])
"""


@pytest.mark.parametrize(
    ("script", "stage", "words"),
    [
        (FAILING_TRAIN, "train", ["exited with code 3"]),
        (SILENT_TRAIN, "train", ["wrote no model"]),
        (GARBAGE_TRAIN, "evaluate", ["model.skops"]),
        (UNTRUSTED_TRAIN, "evaluate", ["custom.Wrapper", "trusted_types"]),
        (NAN_TRAIN, "evaluate", ["NaN"]),
    ],
    ids=["training-fails", "no-model", "unreadable-model", "untrusted-type", "nan-metric"],
)
def test_project_failures_give_fail_verdict_with_reason(make_project, mlci, script, stage, words):
    project = make_project("classification")
    (project / "train.py").write_text(script)
    (project / "custom.py").write_text(CUSTOM)
    done = mlci("run", str(project))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    run = read_run(project)
    assert run["verdict"] == "fail"
    assert run["stages"][stage]["status"] == "failed"
    reason = run["stages"][stage]["reason"]
    for word in words:
        assert word in reason, reason
    downstream = {"train": ["evaluate", "model_tests", "gates"], "evaluate": ["gates"]}[stage]
    assert all(run["stages"][name]["status"] == "skipped" for name in downstream)
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert "### What failed" in report and f"**{stage}**" in report
    if script is FAILING_TRAIN:
        assert "boom: bad hyper-parameter" in run["stages"]["train"]["log_tail"]
        assert "<summary>Log tail: train</summary>" in report
