"""Train: run the project's training command (or fit its estimator) once per side, cached."""

from __future__ import annotations

import json
import os
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from mlci_action.cache import RunCache
from mlci_action.errors import MlciError, StageFailure
from mlci_action.executors import Runtime
from mlci_action.executors.environ import thread_limits
from mlci_action.executors.tasks import Command, TrainEstimator
from mlci_action.params import load_params
from mlci_action.pipeline import RunContext, RunState, Side, StageOutput
from mlci_action.record import ClusterTask


def data_env(side: Side, runtime: Runtime, test_project: Path | None = None) -> dict[str, str]:
    """The variables every command run by mlci sees, with paths as ``runtime`` sees them."""
    data = side.config.data

    def where(project: Path, spec: str) -> str:
        # a URL as written; a directory or glob as the runtime sees the project's path
        return spec if "://" in spec else runtime.where((project / spec).resolve())

    return {
        "MLCI_TRAIN_PATH": where(side.project, data.train),
        "MLCI_TEST_PATH": where(test_project or side.project, data.test),
        "MLCI_TARGET": data.target,
        "MLCI_SEED": str(side.config.training.seed),
        "MLCI_TASK": side.config.evaluation.task,
    }


def train_side(ctx: RunContext, side: Side, cache: RunCache, threads: int | None = None) -> Side:
    """Train ``side`` (or fetch its model from the cache); ``threads``: the other side trains
    at the same time, so this one gets at most that many threads."""
    if side.from_registry:
        return side  # the champion's model came with its image
    key = side.source.key or ""
    folder = ctx.workdir / side.source.role
    folder.mkdir(parents=True, exist_ok=True)
    # copied into this run's folder and verified there: what the run uses is what was checked
    cached = cache.fetch_model(key, folder) if key and not ctx.options.no_cache else None
    if cached is not None:
        return replace(side, model=cached, model_cached=True)
    runtime = side.runtime
    if runtime is None:
        raise StageFailure(f"no environment was prepared for the {side.source.role}")
    training = side.config.training
    model = folder / "model.skops"
    params = load_params(side.project, side.config)
    params_path = folder / "params.json"
    params_path.write_text(json.dumps(params), encoding="utf-8")
    limits = thread_limits(threads, side.config.environment.pass_env) if threads else {}
    env = {
        **data_env(side, runtime),
        "MLCI_MODEL_PATH": runtime.where(model),
        "MLCI_PARAMS_PATH": runtime.where(params_path),
        **limits,
    }
    log = ctx.log_path(f"train-{side.source.role}")
    if training.command is not None:
        fields = {
            "model": env["MLCI_MODEL_PATH"],
            "train": env["MLCI_TRAIN_PATH"],
            "test": env["MLCI_TEST_PATH"],
            "target": side.config.data.target,
            "params": env["MLCI_PARAMS_PATH"],
            "seed": str(training.seed),
        }
        try:
            argv = tuple(part.format(**fields) for part in shlex.split(training.command))
        except (KeyError, ValueError, IndexError) as exc:
            raise StageFailure(
                f"training.command cannot be expanded: {exc}",
                hint="placeholders are {model} {train} {test} {target} {params} {seed}",
            ) from None
        done = runtime.run(
            Command(
                argv=argv,
                cwd=side.project,
                env=env,
                inputs=(params_path,),
                outputs=(model,),
                timeout=training.timeout,
                log=log,
            )
        )
        if done.timed_out:
            raise StageFailure(
                f"training timed out after {training.timeout}s", log_tail=done.tail()
            )
        if not done.ok:
            raise StageFailure(
                f"training command `{training.command}` exited with code {done.returncode}",
                log_tail=done.tail(),
            )
        if not model.is_file():
            raise StageFailure(
                f"training command `{training.command}` wrote no model to $MLCI_MODEL_PATH",
                log_tail=done.tail(),
                hint="save the model with skops.io.dump(model, os.environ['MLCI_MODEL_PATH'])",
            )
    else:
        runtime.call(
            TrainEstimator(
                train_path=str((side.project / side.config.data.train).resolve()),
                target=side.config.data.target,
                estimator=training.estimator or "",
                preprocess=training.preprocess,
                params=params,
                seed=training.seed,
                model_path=str(model),
                threads=int(limits["OMP_NUM_THREADS"]) if "OMP_NUM_THREADS" in limits else None,
            ),
            cwd=side.project,
            lane="project",
            log=log,
            timeout=training.timeout,
        )
    if key:
        cache.store_model(key, model)  # a copy: the run goes on with the model it trained
    return replace(side, model=model, model_cached=False)


class Train:
    name = "train"
    needs: tuple[str, ...] = ("data_tests",)
    """Data first: a failing data check (a header-only file, a broken schema) stops the run
    before any training time is spent."""

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        cache = RunCache(ctx.options.cache_dir, warn=ctx.progress.note)
        baseline = state.baseline
        usable = baseline is not None and baseline.error is None
        threads = _share(ctx, state.candidate, baseline if usable else None, cache)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="mlci-train") as pool:
            base_job = (
                pool.submit(train_side, ctx, baseline, cache, threads)
                if usable and baseline
                else None
            )
            candidate = train_side(ctx, state.candidate, cache, threads)
            notes = [
                "the champion, as it is in production: not trained"
                if candidate.from_registry
                else "candidate " + ("reused from cache" if candidate.model_cached else "trained")
            ]
            if base_job is not None and baseline is not None:
                try:
                    baseline = base_job.result()
                    notes.append(
                        "baseline " + ("reused from cache" if baseline.model_cached else "trained")
                    )
                except MlciError as exc:  # a broken baseline must not block the candidate
                    baseline = replace(baseline, error=f"training failed: {exc.message}")
                    notes.append(f"baseline could not be trained ({exc.message}); no comparison")
        for task in _retried(candidate, baseline):
            notes.append(
                f"{task.name}: ran {task.attempts} times on the cluster (a node or worker was "
                "lost; environment.ray.max_retries)"
            )
        if threads is not None:
            notes.append(f"side by side, {threads} thread{'s' if threads > 1 else ''} each")
        if baseline is not None and not usable:
            notes.append(f"baseline unusable: {baseline.error}")
        state = replace(state, candidate=candidate, baseline=baseline)
        return StageOutput(state, reason="; ".join(notes))


def _retried(candidate: Side, baseline: Side | None) -> list[ClusterTask]:
    """Training tasks that ran more than once on a Ray cluster."""
    runtimes = {id(s.runtime): s.runtime for s in (candidate, baseline) if s and s.runtime}
    return [
        task
        for runtime in runtimes.values()
        for task in runtime.tasks()
        if task.attempts > 1 and task.name.startswith("train-")
    ]


def _trains(ctx: RunContext, side: Side, cache: RunCache) -> bool:
    key = side.source.key
    if side.from_registry:
        return False
    return ctx.options.no_cache or not key or cache.model(key) is None


def _share(ctx: RunContext, candidate: Side, baseline: Side | None, cache: RunCache) -> int | None:
    """Threads for each side when both train at the same time: half the cores each (measured
    fastest on 2 cores: benchmarks/README.md), else None (one training gets every core).
    Two fitted estimators in one environment share its worker, one after the other: no limit."""
    if baseline is None or not (_trains(ctx, candidate, cache) and _trains(ctx, baseline, cache)):
        return None
    one_worker = (
        candidate.config.training.command is None
        and baseline.config.training.command is None
        and candidate.runtime is baseline.runtime
    )
    return None if one_worker else max(1, (os.cpu_count() or 1) // 2)
