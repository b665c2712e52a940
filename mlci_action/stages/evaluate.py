"""Evaluate: mlci scores the candidate and the baseline itself, on the same test data."""

from __future__ import annotations

from dataclasses import replace

from mlci_action.dataset import is_partitioned, is_url
from mlci_action.errors import StageFailure
from mlci_action.executors.tasks import Evaluate as EvaluateRequest
from mlci_action.layout import PREDICTIONS, SMOKE_CASES
from mlci_action.pipeline import RunContext, RunState, StageOutput
from mlci_action.record import Evaluation


class Evaluate:
    name = "evaluate"
    needs: tuple[str, ...] = ("train",)

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        side, base = state.candidate, state.baseline
        if side.runtime is None or side.model is None:
            raise StageFailure("no trained candidate model")
        config = side.config
        baseline_model = base.model if base is not None and base.error is None else None
        predictions = ctx.workdir / PREDICTIONS
        test = config.data.test
        partitioned = is_partitioned(side.project, test)
        request = EvaluateRequest(
            test_path=test if is_url(test) else str((side.project / test).resolve()),
            target=config.data.target,
            task=config.evaluation.task,
            metrics=list(config.evaluation.metric_names),
            bootstrap=config.evaluation.bootstrap.model_dump(),
            positive_class=config.evaluation.positive_class,
            candidate_model=str(side.model),
            baseline_model=str(baseline_model) if baseline_model else None,
            trusted_types=config.evaluation.trusted_types,
            predictions_path=str(predictions),
            smoke_path=str(ctx.workdir / SMOKE_CASES) if ctx.options.package else None,
            smoke_rows=ctx.config.deploy.smoke_rows,
            slices=list(config.evaluation.slices),
            partitioned=partitioned,
        )
        log = ctx.log_path("evaluate")
        runtime = side.runtime
        on_cluster = partitioned and runtime.info.executor == "ray"

        def scored(asked: EvaluateRequest) -> Evaluation:
            if on_cluster:  # a task per partition, merged here (numpy: only on this path)
                from mlci_action.partitioned import evaluate as partitioned_evaluate

                return partitioned_evaluate(runtime, asked)
            return Evaluation.model_validate(runtime.call(asked, cwd=side.project, log=log))

        try:
            evaluation = scored(request)
        except StageFailure as exc:
            if baseline_model is None or base is None:
                raise
            # the baseline may not fit the candidate's test data (columns changed, say):
            # score the candidate alone and say why there is no comparison
            evaluation = scored(request.model_copy(update={"baseline_model": None}))
            state = replace(state, baseline=replace(base, error=f"cannot be scored: {exc.message}"))
        parts = [
            f"{name} {m.candidate:.4g}"
            for name, m in evaluation.metrics.items()
            if m.candidate is not None
        ]
        return StageOutput(
            replace(state, evaluation=evaluation),
            reason=f"{evaluation.rows} rows: " + ", ".join(parts),
        )
