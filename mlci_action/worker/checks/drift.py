"""Drift: the baseline's training data against the candidate's, feature by feature."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlci_action.config import DriftCheck
from mlci_action.record import DataCheck
from mlci_action.worker.checks.baseline import Baseline
from mlci_action.worker.checks.common import Severity, is_numeric, ks, make_check, plural
from mlci_action.worker.checks.table import Table

DRIFT_SAMPLE = 100_000
DRIFT_SEED = 0
PSI_EPSILON = 1e-4
PSI_MAX_BINS = 50
"""Categories beyond the most frequent ones are pooled into one bin, so IDs don't explode PSI."""
_SETTINGS = "data.checks.drift"


def drift_checks(
    baseline: Baseline, candidate: Table, target: str, limits: DriftCheck
) -> list[DataCheck]:
    """Every feature column (the target excluded); a warning unless fail_on_drift."""
    if baseline.unchanged or baseline.table is None:
        return [not_compared(baseline.problem, limits)]
    old_frame, new_frame = baseline.table.frame, candidate.frame
    checks, shared = feature_columns(
        list(old_frame.columns), list(new_frame.columns), target, limits
    )
    old = _sample(old_frame[shared])
    new = _sample(new_frame[shared])
    for column in shared:
        checks.append(_column_drift(old[column], new[column], limits))
    return checks


def _severity(limits: DriftCheck) -> Severity:
    return "error" if limits.fail_on_drift else "warning"


def not_compared(problem: str | None, limits: DriftCheck) -> DataCheck:
    """The one check when the data is unchanged (``problem`` None) or could not be read."""
    if problem is None:
        return make_check(
            name="feature_drift",
            kind="drift",
            dataset="baseline→candidate",
            passed=True,
            severity=_severity(limits),
            detail="data unchanged",
            setting=f"{_SETTINGS}.fail_on_drift",
        )
    # drift is advisory: a baseline without usable data is no reason to stop the run
    return make_check(
        name="feature_drift",
        kind="drift",
        dataset="baseline→candidate",
        passed=False,
        severity="warning",
        detail=f"drift not checked: {problem}",
        setting=None,
    )


def feature_columns(
    before: list[Any], after: list[Any], target: str, limits: DriftCheck
) -> tuple[list[DataCheck], list[Any]]:
    """The feature_columns check (columns added or removed), and the shared feature columns
    in the candidate's order."""
    before = [column for column in before if column != target]
    after = [column for column in after if column != target]
    known, kept = set(before), set(after)
    added = [column for column in after if column not in known]
    removed = [column for column in before if column not in kept]
    changes = [f"added: {', '.join(map(str, added))}"] if added else []
    changes += [f"removed: {', '.join(map(str, removed))}"] if removed else []
    check = make_check(
        name="feature_columns",
        kind="drift",
        dataset="baseline→candidate",
        passed=not changes,
        severity=_severity(limits),
        detail="; ".join(changes) or f"same {plural(len(after), 'feature column')}",
        setting=f"{_SETTINGS}.fail_on_drift",
    )
    return [check], [column for column in after if column in known]


def _sample(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= DRIFT_SAMPLE:
        return frame
    return frame.sample(n=DRIFT_SAMPLE, random_state=DRIFT_SEED)


def _column_drift(old: pd.Series, new: pd.Series, limits: DriftCheck) -> DataCheck:
    column = str(new.name)
    if is_numeric(old) and is_numeric(new):
        a, b = old.dropna().to_numpy(float), new.dropna().to_numpy(float)
        if not len(a) or not len(b):
            statistic = 0.0 if len(a) == len(b) else 1.0
            detail = "no values on one side"
        else:
            statistic = ks(a, b)
            detail = f"KS statistic {statistic:.3f} (mean {a.mean():.4g} → {b.mean():.4g})"
        return column_result(column, statistic, detail, numeric=True, limits=limits)
    statistic, detail = _psi(old, new)
    return column_result(column, statistic, detail, numeric=False, limits=limits)


def column_result(
    column: str, statistic: float, detail: str, *, numeric: bool, limits: DriftCheck
) -> DataCheck:
    """One feature's check: a KS statistic (numeric) or a PSI against its threshold."""
    if numeric:
        threshold, setting = limits.ks_threshold, f"{_SETTINGS}.ks_threshold"
    else:
        threshold, setting = limits.psi_threshold, f"{_SETTINGS}.psi_threshold"
    return make_check(
        name="feature_drift",
        kind="drift",
        dataset="baseline→candidate",
        column=column,
        passed=statistic <= threshold,
        severity=_severity(limits),
        detail=detail,
        setting=setting,
        statistic=statistic,
        threshold=threshold,
    )


def _psi(old: pd.Series, new: pd.Series) -> tuple[float, str]:
    return psi_of_counts(_level_counts(old), _level_counts(new))


def _level_counts(values: pd.Series) -> pd.Series:
    return values.astype(str).where(values.notna(), "(missing)").value_counts()


def psi_of_counts(p: pd.Series, q: pd.Series) -> tuple[float, str]:
    """Population stability index over the union of categories; missing values are one more.

    ``p`` and ``q``: the baseline's and the candidate's counts per value as text, as
    ``value_counts()`` gives them (largest first)."""
    p, q = p.align(q, fill_value=0)
    if len(p) > PSI_MAX_BINS:
        top = (p + q).nlargest(PSI_MAX_BINS - 1).index
        rest = ~p.index.isin(top)
        p = pd.concat([p[~rest], pd.Series({"(other)": p[rest].sum()})])
        q = pd.concat([q[~rest], pd.Series({"(other)": q[rest].sum()})])
    p_share = np.maximum(p.to_numpy(float) / max(p.sum(), 1), PSI_EPSILON)
    q_share = np.maximum(q.to_numpy(float) / max(q.sum(), 1), PSI_EPSILON)
    contributions = (q_share - p_share) * np.log(q_share / p_share)
    psi = float(contributions.sum())
    biggest = int(np.argmax(contributions))
    detail = (
        f"PSI {psi:.3f} over {plural(len(p), 'category', 'categories')}; largest change "
        f"{p.index[biggest]!s}: {p_share[biggest]:.1%} → {q_share[biggest]:.1%}"
    )
    return psi, detail
