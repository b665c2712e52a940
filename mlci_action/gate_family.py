"""Holm's family of the gates judged on significance: which p-values it holds, the verdict
each gate reads from it, and the evaluation with the adjusted p-values recorded."""

from __future__ import annotations

from mlci_action.config import Gate
from mlci_action.record import Evaluation, MetricResult

Key = tuple[str, str | None]
"""(metric, slice name or None for the whole test set)."""


def significance_family(gates: dict[str, Gate], evaluation: Evaluation) -> dict[Key, float]:
    """The p-values the gates judge significance by (require_significant; the interval rule
    no_significant_regression, on the whole test set and on each slice): Holm's family."""
    family: dict[Key, float] = {}
    for metric, gate in gates.items():
        result = evaluation.metrics[metric]
        judged = gate.require_significant or gate.rule == "no_significant_regression"
        if judged and result.p_value is not None:
            family[(metric, None)] = result.p_value
        if gate.slices is not None and (gate.slices.rule or gate.rule) == (
            "no_significant_regression"
        ):
            for part in evaluation.slices:
                found = part.metrics.get(metric)
                if found is not None and found.p_value is not None and not part.too_small:
                    family[(metric, part.name)] = found.p_value
    return family


def holm_verdict(adjusted: dict[Key, float], key: Key, result: MetricResult) -> bool | None:
    """Holm's verdict for ``key``; None when no correction applies (a family of one)."""
    if len(adjusted) < 2 or key not in adjusted or result.confidence is None:
        return None
    return adjusted[key] < 1 - result.confidence


def with_adjusted(evaluation: Evaluation, adjusted: dict[Key, float]) -> Evaluation:
    """The evaluation with each judged metric's Holm-adjusted p-value recorded."""
    if len(adjusted) < 2:
        return evaluation

    def update(metrics: dict[str, MetricResult], where: str | None) -> dict[str, MetricResult]:
        return {
            name: m.model_copy(update={"p_adjusted": adjusted[(name, where)]})
            if (name, where) in adjusted
            else m
            for name, m in metrics.items()
        }

    slices = [
        part.model_copy(update={"metrics": update(part.metrics, part.name)})
        for part in evaluation.slices
    ]
    return evaluation.model_copy(
        update={"metrics": update(evaluation.metrics, None), "slices": slices}
    )
