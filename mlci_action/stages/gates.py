"""Gates: absolute bounds and limits against the baseline (MLflow MetricThreshold semantics)."""

from __future__ import annotations

import math
from dataclasses import replace

from mlci_action.config import Gate
from mlci_action.errors import StageFailure
from mlci_action.metrics import CATALOG
from mlci_action.pipeline import RunContext, RunState, StageOutput
from mlci_action.record import GateResult, MetricResult, Status


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def check_gate(
    metric: str, gate: Gate, result: MetricResult, missing: str | None = None
) -> GateResult:
    """Every rule of ``gate`` against ``result``; the reason lists each rule and its outcome.

    ``missing`` says why a baseline that was expected has no value (it fails the comparison
    rules unless ``without_baseline: pass``); None where no baseline was asked for or where
    nothing exists there yet (a first model)."""
    better = (
        gate.greater_is_better
        if gate.greater_is_better is not None
        else CATALOG[metric].greater_is_better
    )
    cand, base = result.candidate, result.baseline
    if cand is None or math.isnan(cand):
        return GateResult(name=metric, metric=metric, passed=False, reason="no candidate value")
    problems: list[str] = []
    checks: list[str] = []
    if gate.threshold is not None:
        ok = cand >= gate.threshold if better else cand <= gate.threshold
        text = f"{_fmt(cand)} {'≥' if better else '≤'} {_fmt(gate.threshold)}"
        (checks if ok else problems).append(
            text if ok else f"{_fmt(cand)} is not {text.split(' ', 1)[1]}"
        )
    relative_rules = [
        ("min_absolute_change", gate.min_absolute_change, False),
        ("min_relative_change", gate.min_relative_change, True),
        ("max_regression", None if gate.max_regression is None else -gate.max_regression, False),
        (
            "max_relative_regression",
            None if gate.max_relative_regression is None else -gate.max_relative_regression,
            True,
        ),
    ]
    wanted = [(name, bound, rel) for name, bound, rel in relative_rules if bound is not None]
    if wanted or gate.require_significant:
        if base is None and missing is not None and gate.without_baseline == "fail":
            problems.append(
                f"no baseline to compare with ({missing}): the comparison rules cannot pass "
                f"(gates.{metric}.without_baseline: pass allows it)"
            )
        elif base is None:
            checks.append(
                "no baseline: comparisons not checked"
                + (" (without_baseline: pass)" if missing is not None else "")
            )
        else:
            improvement = (cand - base) if better else (base - cand)
            for name, bound, relative in wanted:
                assert bound is not None
                value = improvement / abs(base) if relative and base != 0 else improvement
                shown = f"{value:+.2%}" if relative else f"{value:+.4g}"
                limit = f"{bound:+.2%}" if relative else f"{bound:+.4g}"
                if value >= bound - 1e-12:
                    checks.append(f"{name}: {shown} ≥ {limit}")
                else:
                    problems.append(f"{name}: change {shown} is below {limit}")
            if gate.require_significant:
                low, high = result.ci_low, result.ci_high
                if low is None or high is None:
                    problems.append("significance required but no confidence interval")
                else:
                    lower = low if better else -high
                    if lower > 0:
                        checks.append("improvement is significant")
                    else:
                        problems.append(
                            f"improvement not significant (CI [{_fmt(low)}, {_fmt(high)}])"
                        )
    if problems:
        return GateResult(name=metric, metric=metric, passed=False, reason="; ".join(problems))
    return GateResult(
        name=metric, metric=metric, passed=True, reason="; ".join(checks) or "no rules"
    )


def baseline_missing(ctx: RunContext, state: RunState) -> str | None:
    """Why an expected baseline has no scores; None when none was expected or it is a first
    model. Expected: a baseline was set up (a git ref, the registry's champion), or asked for
    (--base, mlci.yaml's baseline) and could not be."""
    base = state.baseline
    if base is not None:
        if base.absent:
            return None
        if base.error:
            return f"the baseline {base.source.ref}: {base.error}"
        if base.model is None:
            return f"the baseline {base.source.ref} has no model"
        return None
    if ctx.options.champion:
        return None  # the champion re-evaluated: absolute gates only, by design
    if ctx.options.base or ctx.config.baseline:
        return "the baseline asked for could not be set up"
    return None


class Gates:
    name = "gates"
    needs: tuple[str, ...] = ("evaluate",)

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        if state.evaluation is None:
            raise StageFailure("no evaluation")
        missing = baseline_missing(ctx, state)
        results = tuple(
            check_gate(name, gate, state.evaluation.metrics[name], missing)
            for name, gate in ctx.config.gates.items()
        )
        state = replace(state, gates=results)
        failed = [g.name for g in results if not g.passed]
        if failed:
            return StageOutput(
                state,
                Status.FAILED,
                f"{len(failed)} of {len(results)} gates failed: {', '.join(failed)}",
            )
        return StageOutput(
            state, reason=f"{len(results)} gates passed" if results else "no gates configured"
        )
