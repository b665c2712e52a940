"""Environment: build (or reuse) each side's environment (the baseline's only when its model
is not in the cache already)."""

from __future__ import annotations

from dataclasses import replace

from mlci_action.cache import RunCache
from mlci_action.executors.host import HostPool
from mlci_action.pipeline import RunContext, RunState, StageOutput


class BuildEnvironment:
    name = "environment"
    needs: tuple[str, ...] = ("source",)

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        cache = RunCache(ctx.options.cache_dir, warn=ctx.progress.note)
        candidate = state.candidate
        hosts = HostPool(ctx.workdir / "logs")
        ctx.stack.callback(hosts.close)
        log = ctx.log_path("environment")
        runtime = None
        if candidate.from_registry and candidate.image:  # the champion, in its own environment
            runtime = ctx.executor.prepare_image(candidate.image, log, ctx.config)
        if runtime is None:
            runtime = ctx.executor.prepare(candidate.project, ctx.config, log)
        ctx.stack.callback(runtime.close)
        runtime = runtime.with_hosts(hosts)
        if not ctx.options.data_only:  # validate needs one worker, started when first used
            runtime.warm()  # imports pandas and scikit-learn in the background meanwhile
        state = replace(
            state, candidate=replace(candidate, runtime=runtime), environment=runtime.info
        )
        notes = [
            f"{'reused' if runtime.info.reused else 'built'} {runtime.info.executor} environment "
            f"{runtime.info.key[:12]} (Python {runtime.info.python})"
        ]
        if candidate.from_registry:
            notes = [
                f"the champion's own image ({runtime.info.executor}, Python {runtime.info.python})"
                if runtime.info.key.startswith("image:")
                else notes[0] + ": the project's environment (this executor runs no images)"
            ]
        baseline = state.baseline
        if baseline is not None and baseline.error is None and not baseline.from_registry:
            if (
                not ctx.options.data_only
                and baseline.source.key
                and (ctx.options.no_cache or cache.model(baseline.source.key) is None)
            ):
                if baseline.config.environment == ctx.config.environment and (
                    ctx.executor.key(baseline.project, baseline.config) == runtime.info.key
                ):
                    base_runtime = runtime
                else:
                    base_runtime = ctx.executor.prepare(
                        baseline.project, baseline.config, ctx.log_path("environment-baseline")
                    )
                    ctx.stack.callback(base_runtime.close)
                    base_runtime = base_runtime.with_hosts(hosts)
                    notes.append(f"baseline environment {base_runtime.info.key[:12]}")
                baseline = replace(baseline, runtime=base_runtime)
                state = replace(state, baseline_environment=base_runtime.info)
            state = replace(state, baseline=baseline)
        return StageOutput(state, reason="; ".join(notes))
