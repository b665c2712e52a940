"""The run: one context, one state that each stage replaces, one ordered list of stages."""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlci_action.config import Config
from mlci_action.errors import StageFailure
from mlci_action.executors import Executor, Runtime

if TYPE_CHECKING:
    from mlci_action.images.activity import LogSink
    from mlci_action.images.docker_api import Docker
    from mlci_action.images.registry import Registry
    from mlci_action.monitoring.profile import Profile
from mlci_action.record import (
    DataReport,
    Deployment,
    EnvironmentInfo,
    Evaluation,
    GateResult,
    ImageInfo,
    ModelTestsReport,
    SmokeTest,
    Source,
    StageResult,
    Status,
    TrustReport,
)


@dataclass(frozen=True)
class Options:
    project: Path
    out: Path
    cache_dir: Path
    base: str | None = None
    no_cache: bool = False
    package: bool = False
    """Build the serving image and smoke-test it (needs a Docker daemon)."""
    push: bool = False
    """Also push it when the run is approved (verdict pass and the deploy policy)."""
    moving_tags: tuple[str, ...] | None = None
    """The moving tags this push may move (None: deploy.tags). The action passes them by
    event: only the default branch (or deploy.policy.on_push_to) moves them."""
    extra_tags: tuple[str, ...] = ()
    """Immutable tags beside the commit's, e.g. ``pr-7`` for an approved pull request."""
    base_name: str | None = None
    """How the report names the git baseline (the PR's base branch), when ``base`` is a sha."""
    registry_tag: str | None = None
    """The registry tag whose image is the baseline (None: deploy.champion_tag); on a push to
    the default branch, the moving tag: the model behind it now."""
    fallback_base: str | None = None
    """The git ref to compare with when the registry holds nothing behind that tag yet."""
    approved_commit: str | None = None
    """The commit reviewers approved (the action, on an approving review): image label."""
    approvers: tuple[str, ...] = ()
    run_url: str | None = None
    """The CI run's URL (the action), recorded in the attestation."""
    source_url: str | None = None
    """The repository's URL, for the image's org.opencontainers.image.source label."""
    reuse_approved: bool = False
    """A push to the deploy branch: when an approved, attested image of the same content
    exists, retag it (no retraining, no rebuild) instead of building a new one."""
    allow_dirty: bool = False
    """Push a working tree with uncommitted changes (as a ``wt-`` tag only)."""
    trust: TrustReport | None = None
    """On a pull request (the action): the settings taken from its base, and its gate changes."""
    data_only: bool = False
    """`mlci validate`: the stages up to the data tests, nothing trained (the baseline's
    environment, which only training needs, is not prepared)."""
    prepare: bool = False
    """Run data.prepare before anything is hashed: only on a trusted run (the action: push,
    schedule or workflow_dispatch on the default branch; the CLI: ``--prepare``)."""
    champion: bool = False
    """Re-evaluate the registry's champion (the candidate side) on the current data, tests and
    gates, in its own image's environment: nothing trained, no baseline, nothing pushed."""


class Progress(Protocol):
    def stage_started(self, name: str) -> None: ...

    def stage_finished(self, name: str, result: StageResult) -> None: ...

    def note(self, text: str) -> None: ...

    def activity(self, title: str, log: Path | None) -> AbstractContextManager[LogSink]:
        """A sink for a Docker build's, pull's or push's events while it runs: all of its
        output to ``log``, at most a progress bar on the screen."""
        ...


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
    absent: bool = False
    """Nothing exists at the baseline yet (a first model): not an error to hold against it."""
    from_registry: bool = False
    """The champion from the registry: a model, no source tree to train or check out."""
    image: str | None = None
    """The champion's serving image (pulled): its environment, for scoring it as it serves."""


@dataclass(frozen=True)
class RunState:
    candidate: Side
    baseline: Side | None = None
    environment: EnvironmentInfo | None = None
    baseline_environment: EnvironmentInfo | None = None
    """The baseline's, when this run prepared it (the report shows the package changes)."""
    data: DataReport | None = None
    evaluation: Evaluation | None = None
    model_tests: ModelTestsReport | None = None
    gates: tuple[GateResult, ...] = ()
    image: ImageInfo | None = None
    smoke_test: SmokeTest | None = None
    reference_profile: Profile | None = None
    """The candidate's reference profile, stored in its serving image (package)."""
    deployment: Deployment | None = None
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
    docker: Docker | None = None
    """The Docker engine, when the run packages or deploys (injected by the command)."""
    registry: Registry | None = None

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


def _blocked(stage: Stage, stages: dict[str, StageResult], blocked: set[str]) -> list[str]:
    """Needs that failed, or were skipped because their own needs failed. (A stage skipped
    because it is not configured, such as model tests, blocks nothing.)"""
    return [
        need
        for need in stage.needs
        if need in blocked or (need in stages and stages[need].status == Status.FAILED)
    ]


def _ready(stage: Stage, stages: dict[str, StageResult]) -> bool:
    return all(need in stages for need in stage.needs)


def _execute(ctx: RunContext, stage: Stage, state: RunState) -> tuple[StageResult, dict[str, Any]]:
    """Run one stage; return its result and the state fields it changed."""
    ctx.progress.stage_started(stage.name)
    started = time.perf_counter()
    try:
        out = stage.run(ctx, state)
    except StageFailure as exc:
        result = StageResult(
            status=Status.FAILED,
            seconds=round(time.perf_counter() - started, 3),
            reason=str(exc),
            log_tail=exc.log_tail,
        )
        return result, {"errored": (stage.name,)}
    result = StageResult(
        status=out.status,
        seconds=round(time.perf_counter() - started, 3),
        reason=out.reason,
        log_tail=out.log_tail,
    )
    changed = {
        f.name: getattr(out.state, f.name)
        for f in fields(RunState)
        if f.name not in ("stages", "errored")
        and getattr(out.state, f.name) is not getattr(state, f.name)
    }
    return result, changed


def run_stages(ctx: RunContext, state: RunState, stages: list[Stage], workers: int = 2) -> RunState:
    """Run the stages as a graph: each starts once its needs are done, up to ``workers`` at a
    time (stages run subprocesses, so threads suffice). A stage whose needs did not pass is
    skipped with the reason. Concurrent stages change disjoint fields of the state.
    """
    pending = list(stages)
    blocked_names: set[str] = set()
    running: dict[Future[tuple[StageResult, dict[str, Any]]], Stage] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlci-stage") as pool:
        while pending or running:
            for stage in [s for s in pending if _ready(s, state.stages)]:
                pending.remove(stage)
                blocked = _blocked(stage, state.stages, blocked_names)
                if blocked:
                    blocked_names.add(stage.name)
                    reason = f"needs {', '.join(blocked)}, which did not pass"
                    result = StageResult(status=Status.SKIPPED, reason=reason)
                    state = replace(state, stages={**state.stages, stage.name: result})
                    ctx.progress.stage_finished(stage.name, result)
                else:
                    running[pool.submit(_execute, ctx, stage, state)] = stage
            if not running and any(_ready(s, state.stages) for s in pending):
                continue  # stages were skipped in this pass: their dependents are ready now
            if not running:
                if pending:  # needs that no stage provides: a programming error
                    raise RuntimeError(f"stages with unmet needs: {[s.name for s in pending]}")
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                stage = running.pop(future)
                result, changed = future.result()
                errored = (*state.errored, *changed.pop("errored", ()))
                state = replace(
                    state, **changed, errored=errored, stages={**state.stages, stage.name: result}
                )
                ctx.progress.stage_finished(stage.name, result)
    return state
