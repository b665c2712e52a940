"""data.prepare: run before the data is checked and hashed, in the project's environment
(here the `current` executor: mlci's own interpreter), with a timeout; a failure stops the
run with exit 2 naming the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci_action.commands.run import begin
from mlci_action.config import load_config
from mlci_action.errors import ConfigError, InputError
from mlci_action.executors.current import CurrentExecutor
from mlci_action.pipeline import Options
from mlci_action.prepare import run_prepare
from tests.test_pipeline import Recorder

CURRENT = {"MLCI_EXECUTOR": "current"}


def set_prepare(project: Path, line: str) -> None:
    config = project / "mlci.yaml"
    text = config.read_text()
    start = text.index("  prepare:")
    end = text.index("\n", start)
    config.write_text(text[:start] + line + text[end:])


def live_rows(project: Path, count: int) -> None:
    """``count`` rows of the test file, labelled, as the live rows data/live/ holds."""
    lines = (project / "data" / "test.csv").read_text().splitlines()
    (project / "data" / "live").mkdir()
    (project / "data" / "live" / "night-1.csv").write_text("\n".join(lines[: count + 1]) + "\n")


def candidate_key(project: Path, shared_cache: Path, *, prepare: bool) -> str | None:
    options = Options(project=project, out=project / "out", cache_dir=shared_cache, prepare=prepare)
    with begin(options, Recorder(), environ=CURRENT) as (_, state):
        return state.candidate.source.key


def test_prepare_runs_before_the_data_is_hashed(make_project, shared_cache):
    project = make_project("classification", git_init=False)
    train = project / "data" / "train.csv"
    rows = len(train.read_text().splitlines())
    live_rows(project, 5)
    unprepared = candidate_key(project, shared_cache, prepare=False)  # not asked: not run
    assert len(train.read_text().splitlines()) == rows
    prepared = candidate_key(project, shared_cache, prepare=True)
    assert len(train.read_text().splitlines()) == rows + 5
    assert prepared != unprepared  # the key is of the prepared data
    config, log = load_config(project), project / "prepare.log"
    run_prepare(project, config, CurrentExecutor(shared_cache), log)  # again: idempotent
    assert len(train.read_text().splitlines()) == rows + 5


def test_a_failing_prepare_stops_the_run_naming_the_command(make_project, shared_cache, tmp_path):
    project = make_project("classification", git_init=False)
    set_prepare(project, "  prepare: python -c \"import sys; print('no bucket'); sys.exit(3)\"")
    config = load_config(project)
    with pytest.raises(InputError) as raised:
        run_prepare(project, config, CurrentExecutor(shared_cache), tmp_path / "prepare.log")
    assert raised.value.exit_code == 2
    assert "data.prepare `python -c" in raised.value.message
    assert "exited with code 3" in raised.value.message and "no bucket" in raised.value.message


def test_a_slow_prepare_times_out(make_project, shared_cache, tmp_path):
    project = make_project("classification", git_init=False)
    set_prepare(
        project, '  prepare: {command: "python -c \\"import time; time.sleep(30)\\"", timeout: 1}'
    )
    with pytest.raises(InputError, match=r"timed out after 1 s"):
        run_prepare(
            project, load_config(project), CurrentExecutor(shared_cache), tmp_path / "p.log"
        )


def test_a_bad_placeholder_is_a_config_error(make_project, shared_cache, tmp_path):
    project = make_project("classification", git_init=False)
    set_prepare(project, "  prepare: python prepare.py {nope}")
    with pytest.raises(ConfigError, match=r"data.prepare.command .* cannot be expanded"):
        run_prepare(
            project, load_config(project), CurrentExecutor(shared_cache), tmp_path / "p.log"
        )
