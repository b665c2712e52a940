"""`mlci run`: the whole pipeline, from source to report, with the run cache in between."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mlci_action import __version__
from mlci_action.cache import CachedRun, RunCache, atomic_copy, atomic_write
from mlci_action.config import Config, load_config
from mlci_action.errors import MlciError
from mlci_action.executors import create
from mlci_action.hashing import file_digest, remembered, tree_digest, value_digest
from mlci_action.layout import BASELINE_MODEL, CANDIDATE_MODEL, PREDICTIONS, SMOKE_CASES
from mlci_action.params import diff, load_params
from mlci_action.paths import check_paths, path_keys
from mlci_action.pipeline import Options, Progress, RunContext, RunState, Side, run_stages
from mlci_action.preflight import check_inputs, check_reachable
from mlci_action.prepare import run_prepare
from mlci_action.record import (
    CacheInfo,
    ClusterTask,
    Deployment,
    GateResult,
    MetricResult,
    RunRecord,
    Source,
    StageResult,
    Status,
)
from mlci_action.report.render import render_markdown
from mlci_action.stages import SOURCE, STAGE_NAMES, STAGES

if TYPE_CHECKING:
    from mlci_action.images.docker_api import Docker
    from mlci_action.images.registry import Registry


LIVE = ("package", "deploy")
"""Stages a cache hit still runs: what they make (an image, a push) belongs to this run."""


@dataclass(frozen=True)
class RunOutcome:
    record: RunRecord
    report: Path
    run_json: Path


def _summary(state: RunState) -> str:
    stages = [(n, state.stages[n]) for n in STAGE_NAMES if n in state.stages]  # in stage order
    failed = [(n, s) for n, s in stages if s.status == Status.FAILED]
    if failed:
        return "; ".join(f"{name}: {stage.reason}" for name, stage in failed)
    parts = []
    if state.gates:
        parts.append(f"all {len(state.gates)} gates passed")
    if state.evaluation:
        first, metric = next(iter(state.evaluation.metrics.items()))
        text = f"{first} {metric.candidate:.4g}"
        if metric.delta is not None:
            text += f" ({metric.delta:+.3g} vs baseline)"
        parts.append(text)
    worst = worst_slice(state)
    if worst:
        parts.append(worst)
    if state.data:
        parts.append(state.data.tally)
    if state.model_tests:
        parts.append(f"{state.model_tests.passed} model tests passed")
    if state.baseline is not None and state.baseline.error:
        parts.append(f"baseline not compared: {state.baseline.error}")
    return "; ".join(parts) or "all stages passed"


def worst_slice(state: RunState) -> str | None:
    """The slice that fared worst against the baseline on the first gated (else first) metric,
    e.g. ``worst slice: age >= 65 (accuracy -0.042)``; None without slices or a baseline."""
    evaluation = state.evaluation
    if evaluation is None or not evaluation.slices:
        return None
    gated = [g.metric for g in state.gates]
    metric = gated[0] if gated else next(iter(evaluation.metrics), None)
    judged = [
        (
            part.too_small is not None,
            m.delta if m.greater_is_better else -m.delta,
            part.name,
            m.delta,
        )
        for part in evaluation.slices
        if (m := part.metrics.get(metric or "")) is not None and m.delta is not None
    ]
    if not judged:
        return None
    small, _, name, delta = min(judged)  # slices large enough to judge first
    if small:
        return f"worst slice: {name} ({metric} {delta:+.3g}; too small to judge)"
    return f"worst slice: {name} ({metric} {delta:+.3g})"


Params = dict[str, dict[str, str | None]]


def _params(state: RunState) -> Params:
    candidate = load_params(state.candidate.project, state.candidate.config)
    base = state.baseline
    baseline = None
    if base is not None and base.project.is_absolute():
        try:
            baseline = load_params(base.project, base.config)
        except MlciError:
            baseline = None
    return diff(baseline, candidate) if base is not None else {}


def _record(
    ctx: RunContext, state: RunState, cache: CacheInfo, params: Params, started: float
) -> RunRecord:
    verdict = "pass" if all(s.status != Status.FAILED for s in state.stages.values()) else "fail"
    base = state.baseline
    return RunRecord(
        mlci_version=__version__,
        name=ctx.config.name,
        verdict=verdict,
        summary=_summary(state),
        mode="champion" if ctx.options.champion else "compare",
        started_at=ctx.started_at,
        seconds=round(time.perf_counter() - started, 3),
        candidate=state.candidate.source,
        baseline=base.source if base is not None else None,
        stages={n: state.stages[n] for n in STAGE_NAMES if n in state.stages},
        metrics=state.evaluation.metrics if state.evaluation else {},
        positive_class=state.evaluation.positive_class if state.evaluation else None,
        gates=list(state.gates),
        slices=state.evaluation.slices if state.evaluation else [],
        too_small=state.evaluation.too_small if state.evaluation else None,
        bootstrap_method=state.evaluation.bootstrap_method if state.evaluation else None,
        bootstrap_seed=state.evaluation.bootstrap_seed if state.evaluation else None,
        test_partitions=state.evaluation.partitions if state.evaluation else None,
        data=state.data,
        model_tests=state.model_tests,
        image=state.image,
        smoke_test=state.smoke_test,
        reference_profile=state.reference_profile,
        deployment=state.deployment,
        trust=ctx.options.trust,
        environment=state.environment,
        cluster=_cluster_tasks(state),
        baseline_environment=state.baseline_environment,
        curves=state.evaluation.curves if state.evaluation else None,
        params=params,
        cache=cache,
    )


def _cluster_tasks(state: RunState) -> list[ClusterTask]:
    """The tasks of the run's runtimes that ran on a cluster (each runtime once)."""
    runtimes = {
        id(s.runtime): s.runtime for s in (state.candidate, state.baseline) if s and s.runtime
    }
    return [task for runtime in runtimes.values() for task in runtime.tasks()]


def _trained(state: RunState) -> dict[str, bool]:
    base = state.baseline
    return {
        "candidate": not state.candidate.model_cached,
        **({"baseline": not base.model_cached} if base is not None and base.model else {}),
    }


def _run_key(ctx: RunContext, state: RunState) -> str:
    """The run cache's key: what the results depend on, never which commit or when. The side
    keys cover each side's files, params and environment; to them come the settings in effect
    (the action may change them: a pull request's run uses its base's) and the files
    mlci.yaml names as they are on disk (data that git ignores is not in the tree's key)."""
    project, config = state.candidate.project, ctx.config
    files: dict[str, str | None] = {}
    for key, value, _ in path_keys(config):
        path = project / value
        files[key] = (
            file_digest(path) if path.is_file() else tree_digest(path) if path.is_dir() else None
        )
    base = state.baseline
    return RunCache.run_key(
        state.candidate.source.key or "",
        base.source.key if base is not None else None,
        f"{ctx.executor.name}:champion={ctx.options.champion}",
        value_digest({"config": config.model_dump(mode="json"), "files": files}),
    )


def _cached_run(ctx: RunContext, state: RunState, params: Params) -> CachedRun:
    """What the run cache keeps of a run: its results, not who it was or what it shipped."""
    base = state.baseline
    return CachedRun(
        computed_at=ctx.started_at,
        stages={n: s for n, s in state.stages.items() if n not in (SOURCE.name, *LIVE)},
        evaluation=state.evaluation,
        data=state.data,
        model_tests=state.model_tests,
        gates=list(state.gates),
        environment=state.environment,
        baseline_environment=state.baseline_environment,
        params=params,
        trained=_trained(state),
        baseline_error=base.error if base is not None else None,
    )


def _reused(ctx: RunContext, state: RunState, cached: CachedRun) -> RunState:
    """This run's state (its sources) with the cached results and models (already copied
    into the work directory): what the live stages need to package and deploy."""
    workdir = ctx.workdir
    candidate = replace(state.candidate, model=workdir / CANDIDATE_MODEL, model_cached=True)
    base = state.baseline
    if base is not None:
        model = workdir / BASELINE_MODEL
        base = replace(
            base,
            model=model if model.is_file() else base.model,
            model_cached=True,
            error=base.error or cached.baseline_error,
        )
    evaluation = cached.evaluation
    if evaluation is not None:
        predictions = workdir / PREDICTIONS
        evaluation = evaluation.model_copy(
            update={"predictions_file": str(predictions) if predictions.is_file() else None}
        )
    stages = dict(state.stages)
    for name in STAGE_NAMES:
        if name in cached.stages:
            result = cached.stages[name]
            if result.status == Status.PASSED:
                result = result.model_copy(update={"status": Status.CACHED})
            stages[name] = result.model_copy(update={"seconds": 0.0})
            ctx.progress.stage_finished(name, stages[name])
    # the times a record holds are this run's: the reused work took none of it
    data = cached.data.model_copy(update={"seconds": 0.0}) if cached.data else None
    model_tests = cached.model_tests
    if model_tests is not None:
        model_tests = model_tests.model_copy(
            update={"tests": [t.model_copy(update={"seconds": 0.0}) for t in model_tests.tests]}
        )
    return replace(
        state,
        candidate=candidate,
        baseline=base,
        environment=cached.environment,
        baseline_environment=cached.baseline_environment,
        data=data,
        evaluation=evaluation,
        model_tests=model_tests,
        gates=tuple(cached.gates),
        stages=stages,
    )


def _artifacts(ctx: RunContext, state: RunState) -> dict[str, Path]:
    files: dict[str, Path] = {}
    if state.candidate.model:
        files[CANDIDATE_MODEL] = state.candidate.model
    if state.baseline is not None and state.baseline.model and not state.baseline.error:
        files[BASELINE_MODEL] = state.baseline.model
    predictions = ctx.workdir / PREDICTIONS
    if predictions.is_file():
        files[PREDICTIONS] = predictions
    logs = ctx.workdir / "logs"
    if logs.is_dir():
        files.update({f"logs/{log.name}": log for log in sorted(logs.glob("*.log"))})
    return files


def _reuse_approved(
    ctx: RunContext, state: RunState, registry: Registry, started: float
) -> RunRecord | None:
    """The approved image of this content, retagged for this commit and the moving tags; the
    run's record says so and carries the approved run's results. None: build as usual."""
    from mlci_action.images.oci import OciClient
    from mlci_action.images.reuse import approved_image, key_tag, retag
    from mlci_action.stages.deploy import moving_tags

    source = state.candidate.source
    repository = ctx.config.deploy.repository(ctx.config.name)
    if repository is None or not source.key or not source.sha or source.dirty:
        return None
    begun = time.perf_counter()
    with OciClient(registry.credentials) as client:
        approved, why = approved_image(client, repository, source.key)
        if approved is None:
            ctx.progress.note(f"building: the approval could not be reused: {why}")
            return None
        tags = [source.sha, source.sha[:12], key_tag(source.key), *moving_tags(ctx, state)]
        retag(client, repository, approved.digest, tags)
    predicate = approved.statement.predicate
    approval = predicate.approval
    reason = (
        f"the approved image of {(approval.commit or '')[:12]} (approved by "
        f"{', '.join(approval.approvers) or 'nobody'}) has this content: retagged "
        f"{repository}@{approved.digest[:19]}, not retrained"
    )
    deploy = StageResult(
        status=Status.PASSED, seconds=round(time.perf_counter() - begun, 3), reason=reason
    )
    ctx.progress.stage_finished("deploy", deploy)
    return RunRecord(
        mlci_version=__version__,
        name=ctx.config.name,
        verdict="pass",
        summary=f"{reason}; its run: {predicate.summary}",
        started_at=ctx.started_at,
        seconds=round(time.perf_counter() - started, 3),
        candidate=source,
        stages={**state.stages, "deploy": deploy},
        metrics={
            n: MetricResult.model_validate(m.model_dump()) for n, m in predicate.metrics.items()
        },
        gates=[GateResult.model_validate(g.model_dump()) for g in predicate.gates],
        deployment=Deployment(
            pushed=True,
            reason=reason,
            repository=repository,
            digest=approved.digest,
            tags=tags,
            approved_commit=approval.commit,
            approvers=list(approval.approvers),
        ),
        trust=ctx.options.trust,
        cache=CacheInfo(hit=False, key=source.key),
    )


def _attest(
    ctx: RunContext,
    state: RunState,
    record: RunRecord,
    files: dict[str, Path],
    registry: Registry,
) -> tuple[RunRecord, dict[str, Path]]:
    """The pushed image's in-toto statement (verdict, metrics, gates, hashes, approval) and
    its SBOM, pushed beside it in the registry and written to the out dir. An image that
    cannot be attested fails the run: `mlci promote` would refuse it anyway."""
    from mlci_action.images import attestation, sbom
    from mlci_action.images.oci import OciClient

    deployment = record.deployment
    assert deployment is not None and deployment.repository and deployment.digest
    started = time.perf_counter()
    made = attestation.statement(
        record,
        deployment.repository,
        deployment.digest,
        approved_commit=ctx.options.approved_commit,
        approvers=ctx.options.approvers,
        run_url=ctx.options.run_url,
        hashes={},
    )
    path = ctx.workdir / "attestation.intoto.json"
    attestation.write_statement(made, path)
    try:
        with OciClient(registry.credentials) as client:
            attestation.attach(client, deployment.repository, deployment.digest, made)
            if ctx.docker is not None and state.image is not None:
                document = sbom.generate(
                    ctx.docker, state.image.tag, deployment.repository, deployment.digest
                )
                sbom.attach_sbom(client, deployment.repository, deployment.digest, document)
        result = StageResult(
            status=Status.PASSED,
            seconds=round(time.perf_counter() - started, 3),
            reason=f"attestation and SBOM pushed beside {deployment.digest[:19]}",
        )
    except MlciError as exc:
        result = StageResult(
            status=Status.FAILED, seconds=round(time.perf_counter() - started, 3), reason=str(exc)
        )
    ctx.progress.stage_finished("attest", result)
    verdict = record.verdict if result.status == Status.PASSED else "fail"
    record = record.model_copy(
        update={"stages": {**record.stages, "attest": result}, "verdict": verdict}
    )
    return record, {**files, "attestation.intoto.json": path}


def publish(out: Path, record: RunRecord, files: dict[str, Path]) -> RunOutcome:
    """Write the out dir: artifacts first, then the report, then run.json, each atomically."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("models", "logs"):
        shutil.rmtree(out / stale, ignore_errors=True)
    (out / PREDICTIONS).unlink(missing_ok=True)
    if record.deployment is None or record.deployment.archive is None:
        (out / "image.tar").unlink(missing_ok=True)
    for name, path in files.items():
        atomic_copy(path, out / name)
    record = record.model_copy(update={"artifacts": {name: name for name in files}})
    report, run_json = out / "report.md", out / "run.json"
    atomic_write(report, render_markdown(record))
    atomic_write(run_json, record.model_dump_json(indent=2))
    return RunOutcome(record, report, run_json)


@contextmanager
def begin(
    options: Options,
    progress: Progress,
    docker: Docker | None = None,
    registry: Registry | None = None,
    config: Config | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Iterator[tuple[RunContext, RunState]]:
    """A run's context (its executor, work directory and engines) and its state after the
    source stage: what `mlci run` and `mlci validate` share. Inputs are checked first."""
    project = options.project
    config = config or load_config(project)
    prepare = options.prepare and config.data.prepare is not None
    check_paths(project, config) if prepare else check_inputs(project, config)
    executor = create(config, options.cache_dir, environ)
    check_reachable(project, config, executor.name)
    with ExitStack() as stack:
        stack.enter_context(remembered())  # each data file hashed once, whatever names it
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlci-run-")))
        if prepare:  # before the data is checked and hashed
            progress.note(run_prepare(project, config, executor, workdir / "logs" / "prepare.log"))
            check_inputs(project, config)
        ctx = RunContext(
            options=options,
            config=config,
            executor=executor,
            progress=progress,
            workdir=workdir,
            stack=stack,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            docker=docker,
            registry=registry,
        )
        placeholder = Source(role="candidate", ref="working tree")
        yield ctx, run_stages(ctx, RunState(candidate=Side(placeholder, project, config)), [SOURCE])


def execute(
    options: Options,
    progress: Progress,
    docker: Docker | None = None,
    registry: Registry | None = None,
    config: Config | None = None,
    environ: Mapping[str, str] = os.environ,
) -> RunOutcome:
    """The run. ``config`` overrides the project's mlci.yaml (the action sets inputs on it)."""
    started = time.perf_counter()
    with begin(options, progress, docker, registry, config, environ) as (ctx, state):
        cache = RunCache(options.cache_dir, warn=progress.note)
        workdir = ctx.workdir
        if options.reuse_approved and options.push and registry is not None:
            reused = _reuse_approved(ctx, state, registry, started)
            if reused is not None:
                return publish(options.out, reused, {})
        run_key = _run_key(ctx, state)
        # the smoke test replays cases written by evaluate: a run that packages needs them
        need = (CANDIDATE_MODEL, *((SMOKE_CASES,) if options.package else ()))
        cached = None if options.no_cache else cache.run(run_key, into=workdir, require=need)
        if cached is not None:
            progress.note(
                f"nothing changed since a run at {cached.computed_at}: results reused from "
                "the cache"
            )
            state = _reused(ctx, state, cached)
            state = run_stages(ctx, state, [stage for stage in STAGES if stage.name in LIVE])
            info = CacheInfo(hit=True, key=run_key, trained=cached.trained)
            params = cached.params
        else:
            state = run_stages(ctx, state, STAGES)
            info = CacheInfo(hit=False, key=run_key, trained=_trained(state))
            params = _params(state)
        report_started = time.perf_counter()
        record = _record(ctx, state, info, params, started)
        files = _artifacts(ctx, state)
        report_stage = StageResult(
            status=Status.PASSED, seconds=round(time.perf_counter() - report_started, 3)
        )
        record = record.model_copy(update={"stages": {**record.stages, "report": report_stage}})
        progress.stage_finished("report", report_stage)
        if record.deployment is not None and record.deployment.pushed and registry is not None:
            record, files = _attest(ctx, state, record, files, registry)
        outcome = publish(options.out, record, files)
        # results that a stage which raised decided are not results; package and deploy,
        # which a hit runs again anyway, do not count
        if cached is None and not any(name not in LIVE for name in state.errored):
            smoke = workdir / SMOKE_CASES
            extra = {SMOKE_CASES: smoke} if smoke.is_file() else {}
            cache.store_run(run_key, _cached_run(ctx, state, params), {**files, **extra})
        return outcome
