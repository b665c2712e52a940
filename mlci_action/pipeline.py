"""The run: one context, one state that each stage replaces, one ordered list of stages."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mlci_action.config import Config
from mlci_action.errors import StageFailure
from mlci_action.executors import Executor, Runtime
from mlci_action.record import (
    DataReport,
    EnvironmentInfo,
    Evaluation,
    GateResult,
    ModelTestsReport,
    Source,
    StageResult,
    Status,
)


@dataclass(frozen=True)
class Options:
    project: Path
    out: Path
    cache_dir: Path
    base: str | None = None
    no_cache: bool = False


class Progress(Protocol):
    def stage_started(self, name: str) -> None: ...

    def stage_finished(self, name: str, result: StageResult) -> None: ...

    def note(self, text: str) -> None: ...


@dataclass(frozen=True)
class Side:
    """One side of the comparison: where its project is, its config, and what it produced."""

    source: Source
    project: Path
    config: Config
    runtime: Runtime | None = None
    model: Path | None = None
    model_cached: bool = False
    error: str | None = None


@dataclass(frozen=True)
class RunState:
    candidate: Side
    baseline: Side | None = None
    environment: EnvironmentInfo | None = None
    data: DataReport | None = None
    evaluation: Evaluation | None = None
    model_tests: ModelTestsReport | None = None
    gates: tuple[GateResult, ...] = ()
    stages: dict[str, StageResult] = field(default_factory=dict)
    errored: tuple[str, ...] = ()
    """Stages that raised (as opposed to finding failures): such runs are not cached."""


@dataclass
class RunContext:
    options: Options
    config: Config
    executor: Executor
    progress: Progress
    workdir: Path
    """A scratch directory for this run (logs, models before they are published)."""
    stack: ExitStack
    started_at: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    def log_path(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"


@dataclass(frozen=True)
class StageOutput:
    state: RunState
    status: Status = Status.PASSED
    reason: str | None = None
    log_tail: str | None = None


class Stage(Protocol):
    name: str
    needs: tuple[str, ...]

    def run(self, ctx: RunContext, state: RunState) -> StageOutput: ...


def run_stages(ctx: RunContext, state: RunState, stages: list[Stage]) -> RunState:
    """Run each stage in order; a stage whose needs failed is skipped with the reason."""
    for stage in stages:
        blocked = [
            need
            for need in stage.needs
            if state.stages.get(need) is None
            or state.stages[need].status in (Status.FAILED, Status.SKIPPED)
        ]
        if blocked:
            result = StageResult(
                status=Status.SKIPPED, reason=f"needs {', '.join(blocked)}, which did not pass"
            )
            state = replace(state, stages={**state.stages, stage.name: result})
            ctx.progress.stage_finished(stage.name, result)
            continue
        ctx.progress.stage_started(stage.name)
        started = time.perf_counter()
        try:
            out = stage.run(ctx, state)
            result = StageResult(
                status=out.status,
                seconds=round(time.perf_counter() - started, 3),
                reason=out.reason,
                log_tail=out.log_tail,
            )
            state = out.state
        except StageFailure as exc:
            result = StageResult(
                status=Status.FAILED,
                seconds=round(time.perf_counter() - started, 3),
                reason=str(exc),
                log_tail=exc.log_tail,
            )
            state = replace(state, errored=(*state.errored, stage.name))
        state = replace(state, stages={**state.stages, stage.name: result})
        ctx.progress.stage_finished(stage.name, result)
    return state
