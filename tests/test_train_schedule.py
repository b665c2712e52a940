"""Candidate and baseline train side by side with the cores split between them (the schedule
benchmarks/bench_train_schedule.py measured fastest): each training command gets
OMP_NUM_THREADS and the BLAS counts = cores // 2, set by mlci; a training alone gets every
core; a user's explicit environment.pass_env of those variables is respected."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from mlci_action.executors.environ import THREADS, thread_limits
from tests.conftest import git
from tests.test_run import read_run

SHARE = max(1, (os.cpu_count() or 1) // 2)


def probe(project: Path, record: Path) -> None:
    """train.py appends the thread counts it was given to ``record``, one line per training."""
    train = project / "train.py"
    line = (
        f"open({str(record)!r}, 'a').write("
        f"','.join(os.environ.get(n, '-') for n in {THREADS!r}) + '\\n')\n"
    )
    train.write_text(
        train.read_text().replace("def main() -> None:\n", f"def main() -> None:\n    {line}")
    )


def two_commits(make_project, record: Path, pass_env: list[str] | None = None) -> Path:
    project = make_project("classification")
    probe(project, record)
    if pass_env is not None:
        config = yaml.safe_load((project / "mlci.yaml").read_text())
        config["environment"]["pass_env"] = pass_env
        (project / "mlci.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(project, "commit", "--quiet", "-am", "A: the probe")
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.61"))
    git(project, "commit", "--quiet", "-am", "B: another C")
    return project


def test_both_sides_train_side_by_side_with_half_the_cores_each(make_project, mlci, tmp_path):
    record = tmp_path / "threads.txt"
    project = two_commits(make_project, record)
    done = mlci("run", str(project), "--base", "HEAD~1", "--no-cache")
    assert done.returncode == 0, done.stderr
    run = read_run(project)
    assert run["cache"]["trained"] == {"candidate": True, "baseline": True}
    each = f"{SHARE} thread{'s' if SHARE > 1 else ''} each"
    assert run["stages"]["train"]["reason"].endswith(f"side by side, {each}")
    inherited = [os.environ.get(n) for n in THREADS]
    expected = ",".join(
        str(min(int(v), SHARE)) if v and v.isdigit() and int(v) > 0 else str(SHARE)
        for v in inherited
    )
    assert record.read_text().splitlines() == [expected, expected]

    # the baseline is in the cache now: the candidate trains alone, with every core
    record.unlink()
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("C: 0.61", "C: 0.62"))
    alone = mlci("run", str(project), "--base", "HEAD~1")
    assert alone.returncode == 0, alone.stderr
    run = read_run(project)
    assert run["cache"]["trained"] == {"candidate": True, "baseline": False}
    assert "side by side" not in run["stages"]["train"]["reason"]
    assert record.read_text().splitlines() == [",".join(v or "-" for v in inherited)]


def test_a_users_pass_env_of_a_thread_count_is_respected(make_project, mlci, tmp_path):
    record = tmp_path / "threads.txt"
    project = two_commits(make_project, record, pass_env=["OMP_NUM_THREADS"])
    done = mlci("run", str(project), "--base", "HEAD~1", "--no-cache", env={"OMP_NUM_THREADS": "7"})
    assert done.returncode == 0, done.stderr
    lines = record.read_text().splitlines()
    assert len(lines) == 2 and all(line.split(",")[0] == "7" for line in lines)
    assert all(line.split(",")[1] != "-" for line in lines)  # the others are still split


def test_thread_limits() -> None:
    assert thread_limits(1, environ={}) == dict.fromkeys(THREADS, "1")
    # a lower count the machine sets stays; a higher one is capped
    limits = thread_limits(4, environ={"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "16"})
    assert limits["OMP_NUM_THREADS"] == "2" and limits["MKL_NUM_THREADS"] == "4"
    # named in pass_env and set: the user's; named but unset: mlci's
    limits = thread_limits(
        1, ["OMP_NUM_THREADS", "MKL_NUM_THREADS"], environ={"OMP_NUM_THREADS": "8"}
    )
    assert "OMP_NUM_THREADS" not in limits and limits["MKL_NUM_THREADS"] == "1"
