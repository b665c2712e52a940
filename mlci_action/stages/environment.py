"""Environment: check out the baseline, then build (or reuse) each side's environment."""

from __future__ import annotations

from dataclasses import replace

from mlci_action import git
from mlci_action.cache import RunCache
from mlci_action.config import load_config
from mlci_action.errors import ConfigError, InputError, StageFailure
from mlci_action.executors.base import check_environment_files
from mlci_action.executors.host import HostPool
from mlci_action.paths import check_paths
from mlci_action.pipeline import RunContext, RunState, Side, StageOutput


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
            baseline = self._checkout(ctx, baseline)
            if (
                baseline.error is None
                and not ctx.options.data_only
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
            state = replace(state, baseline=baseline)
        return StageOutput(state, reason="; ".join(notes))

    def _checkout(self, ctx: RunContext, baseline: Side) -> Side:
        if baseline.repo_root is None:
            raise StageFailure("the baseline names no git repository to check it out of")
        tree = ctx.stack.enter_context(
            git.worktree(baseline.repo_root, baseline.source.sha or "HEAD")
        )
        project = tree / baseline.project
        config = ctx.config
        if baseline.own_config:
            try:
                config = load_config(project)
            except ConfigError as exc:
                return replace(
                    baseline, project=project, error=f"its mlci.yaml is not valid: {exc.message}"
                )
        try:
            check_paths(project, config)
            check_environment_files(project, config.environment)
        except (ConfigError, InputError) as exc:
            return replace(baseline, project=project, config=config, error=exc.message)
        return replace(baseline, project=project, config=config)
