"""data.prepare: the project's command that brings the data up to date before a run hashes it.

It runs only where the caller says the run is trusted (the action: push, schedule or
workflow_dispatch on the default branch; the CLI: ``mlci run --prepare``), in the project's
own environment (the run's executor), with a timeout. It may write the data files mlci.yaml
names (data.train, data.test) and nothing else comes back from a container. Its failure is
unusable input: the run stops with exit 2 naming the command.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from mlci_action.config import Config
from mlci_action.errors import ConfigError, InputError
from mlci_action.executors import Executor
from mlci_action.executors.tasks import Command

PLACEHOLDERS = ("train", "test", "target")


def argv_of(command: str, fields: dict[str, str]) -> tuple[str, ...]:
    """The command's words, ``{train}`` ``{test}`` ``{target}`` filled in; never a shell."""
    try:
        return tuple(part.format(**fields) for part in shlex.split(command))
    except (KeyError, ValueError, IndexError) as exc:
        raise ConfigError(
            f"mlci.yaml: data.prepare.command `{command}` cannot be expanded: {exc}",
            hint=f"placeholders are {' '.join('{' + p + '}' for p in PLACEHOLDERS)}; "
            "write a literal brace as {{ or }}",
        ) from None


def run_prepare(project: Path, config: Config, executor: Executor, log: Path) -> str:
    """Run data.prepare; return a one-line account of it. Raises InputError (exit 2) when
    the command fails, times out or leaves no training file."""
    prepare = config.data.prepare
    if prepare is None:
        return "no data.prepare"
    train = (project / config.data.train).resolve()
    test = (project / config.data.test).resolve()
    runtime = executor.prepare(project, config, log.with_name("environment-prepare.log"))
    try:
        fields = {
            "train": runtime.where(train),
            "test": runtime.where(test),
            "target": config.data.target,
        }
        argv = argv_of(prepare.command, fields)
        done = runtime.run(
            Command(
                argv=argv,
                cwd=project,
                env={
                    "MLCI_TRAIN_PATH": fields["train"],
                    "MLCI_TEST_PATH": fields["test"],
                    "MLCI_TARGET": config.data.target,
                },
                outputs=(train, test),
                timeout=prepare.timeout,
                log=log,
            )
        )
    finally:
        runtime.close()
    tail = done.tail(20)
    shown = f"\n{tail}" if tail else ""
    if done.timed_out:
        raise InputError(
            f"data.prepare `{prepare.command}` timed out after {prepare.timeout} s; the run "
            f"stops before anything is hashed or trained{shown}",
            hint="make it faster, or raise data.prepare.timeout in mlci.yaml",
        )
    if not done.ok:
        raise InputError(
            f"data.prepare `{prepare.command}` exited with code {done.returncode}; the run "
            f"stops before anything is hashed or trained{shown}",
            hint="run the command in the project's directory to see why; its log is "
            f"{log.name} among the run's logs",
        )
    if not train.is_file():
        raise InputError(
            f"data.prepare `{prepare.command}` left no training file at {config.data.train}",
            hint="data.prepare must leave the files data.train and data.test name",
        )
    return f"data.prepare `{prepare.command}` done in {done.seconds:.1f} s"
