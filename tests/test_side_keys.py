"""One key per side, whichever role it plays: a commit trained as the candidate is reused, not
retrained, when it becomes the baseline; a change to code, data, params or requirements makes
a new key, a change to a gate does not. Real git repositories, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci_action import git as mlci_git
from mlci_action.config import load_config
from mlci_action.executors.local import LocalExecutor
from mlci_action.keys import side_key
from tests.conftest import git


def read_run(project: Path) -> dict:
    return json.loads((project / ".mlci" / "out" / "run.json").read_text())


def key_of(project: Path, cache: Path) -> str:
    return side_key(project, load_config(project), LocalExecutor(cache))


def edit(project: Path, path: str, old: str, new: str) -> None:
    file = project / path
    text = file.read_text()
    assert old in text, f"{old!r} not in {path}"
    file.write_text(text.replace(old, new))


def test_a_commit_trained_as_candidate_is_reused_as_the_baseline(make_project, mlci):
    project = make_project("classification")
    first = mlci("run", str(project), "--no-cache")  # commit A, trained here whatever ran before
    assert first.returncode == 0, first.stderr
    a = read_run(project)
    assert a["cache"]["trained"] == {"candidate": True}

    edit(project, "params.yaml", "C: 1.0", "C: 0.3719")  # a value no other test compares
    git(project, "commit", "--quiet", "-am", "B: another C")
    second = mlci("run", str(project))  # commit B as the candidate
    assert second.returncode == 0, second.stderr
    b = read_run(project)
    assert b["candidate"]["key"] != a["candidate"]["key"]

    third = mlci("run", str(project), "--base", "HEAD~1")  # B against A
    assert third.returncode == 0, third.stderr
    run = read_run(project)
    assert run["cache"]["hit"] is False  # a new comparison: its stages ran
    assert run["baseline"]["sha"] == git(project, "rev-parse", "HEAD~1")
    assert run["baseline"]["key"] == a["candidate"]["key"]
    assert run["candidate"]["key"] == b["candidate"]["key"]
    assert run["cache"]["trained"] == {"candidate": False, "baseline": False}
    assert run["stages"]["train"]["reason"] == (
        "candidate reused from cache; baseline reused from cache"
    )
    # nothing to train, so no environment was prepared for the baseline
    assert "baseline environment" not in (run["stages"]["environment"]["reason"] or "")
    assert run["params"] == {"C": {"baseline": "1.0", "candidate": "0.3719"}}


def test_the_key_of_a_checkout_is_the_key_of_the_same_working_tree(make_project, tmp_path):
    project = make_project("classification")
    cache = tmp_path / "cache"
    (project / "scratch.log").write_text("ignored\n")  # ignored by git: not in the key
    (project / ".gitignore").write_text("*.log\n")
    git(project, "add", ".gitignore")
    git(project, "commit", "--quiet", "-m", "ignore logs")
    working = key_of(project, cache)
    sha = git(project, "rev-parse", "HEAD")
    with mlci_git.worktree(project, sha) as checkout:
        assert not (checkout / "scratch.log").exists()
        assert key_of(checkout, cache) == working
    # a gate is not training: the same model, the same key
    edit(project, "mlci.yaml", "threshold: 0.9 ", "threshold: 0.8 ")
    assert key_of(project, cache) == working


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("data/train.csv", "\n", "\n\n"),  # the data
        ("params.yaml", "C: 1.0", "C: 2.0"),  # the params
        ("requirements.txt", "scikit-learn", "scikit-learn>=1.0\n#"),  # the environment
        ("train.py", "import", "# a comment\nimport"),  # the code
        ("mlci.yaml", "training:\n", "training:\n  seed: 7\n"),  # a training setting
    ],
    ids=["data", "params", "requirements", "code", "training-setting"],
)
def test_a_change_to_what_training_reads_changes_the_key(make_project, tmp_path, path, old, new):
    project = make_project("classification")
    cache = tmp_path / "cache"
    before = key_of(project, cache)
    edit(project, path, old, new)
    after = key_of(project, cache)  # a dirty working tree
    assert after != before
    git(project, "commit", "--quiet", "-am", f"change {path}")
    with mlci_git.worktree(project, git(project, "rev-parse", "HEAD")) as checkout:
        assert key_of(checkout, cache) == after  # committed: the checkout agrees
    with mlci_git.worktree(project, git(project, "rev-parse", "HEAD~1")) as checkout:
        assert key_of(checkout, cache) == before


def test_data_that_git_ignores_is_in_the_candidates_key(make_project, tmp_path):
    project = make_project("classification")
    (project / ".gitignore").write_text("data/\n")
    git(project, "rm", "-r", "--cached", "--quiet", "data")
    git(project, "add", ".gitignore")
    git(project, "commit", "--quiet", "-m", "data out of git")
    cache = tmp_path / "cache"
    before = key_of(project, cache)
    edit(project, "data/train.csv", "\n", "\n\n")
    assert key_of(project, cache) != before


def test_the_key_follows_the_executor_that_runs_not_the_word_in_mlci_yaml(
    make_project, tmp_path: Path
) -> None:
    """A pull request's trusted config turns executor "auto" into "docker" (the PR's code runs
    sandboxed); the merge to main runs the same content with "auto", which resolves to docker
    too. The key must not change between the two, or the approved image is rebuilt."""
    project = make_project("classification")
    config = load_config(project)
    executor = LocalExecutor(tmp_path / "cache")
    as_written = side_key(project, config, executor)
    forced = config.model_copy(
        update={"environment": config.environment.model_copy(update={"executor": "docker"})}
    )
    assert side_key(project, forced, executor) == as_written
    # a different executor that really runs is a different key
    other = type("Other", (LocalExecutor,), {"name": "docker"})(tmp_path / "cache")
    assert side_key(project, config, other) != as_written
