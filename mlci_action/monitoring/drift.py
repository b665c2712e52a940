"""Drift of live values against the reference profile, one feature at a time.

Every feature gets the population stability index over the reference's bins (numeric: its
histogram; categorical: its levels plus "other", and "missing" when either side has any),
which decides drift against ``monitoring.drift.psi``. Beside it a test: numeric features the
two-sample Kolmogorov-Smirnov statistic of the live values against the reference's quantile
sketch (the training CDF at its 101 quantiles; the histogram edges when the profile has no
sketch), so D is read at those points and may be up to 0.01 below the exact one; categorical
features the chi-square test of homogeneity of the live and the reference level counts.
Below ``min_rows`` live rows there is no verdict. Live values arrive as running tallies
(:mod:`.tally`), so a window of any size is judged in bounded memory: bin counts and the counts
at the CDF points are exact; the median a report shows is that of a uniform sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlci_action.monitoring.bins import psi
from mlci_action.monitoring.profile import (
    CategoricalProfile,
    FeatureProfile,
    NumericProfile,
    level_names,
)
from mlci_action.monitoring.record import FeatureDrift
from mlci_action.monitoring.tally import CategoricalTally, NumericTally, Tally, numeric_tally

OTHER = "(other)"
MISSING = "(missing)"


def tally_for(reference: FeatureProfile) -> Tally:
    """An empty tally of live values for ``reference``'s bins (and CDF points)."""
    if isinstance(reference, NumericProfile):
        return numeric_tally(reference.edges, reference_cdf(reference)[0])
    return CategoricalTally()


def tally_values(tally: Tally, values: Any) -> Tally:
    """Add live values of any type (numbers that are not become missing) to ``tally``."""
    if isinstance(tally, NumericTally):
        tally.add(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float))
    else:
        names = level_names(values)
        found = names.dropna().value_counts()
        tally.add({str(k): int(v) for k, v in found.items()}, int(names.isna().sum()))
    return tally


def feature_drift(
    name: str, reference: FeatureProfile, values: Any, *, threshold: float, min_rows: int
) -> FeatureDrift:
    """Drift of live ``values`` (or their tally) against ``reference``."""
    if isinstance(reference, NumericProfile):
        return numeric_drift(name, reference, values, threshold=threshold, min_rows=min_rows)
    return categorical_drift(name, reference, values, threshold=threshold, min_rows=min_rows)


def _verdict(value: float | None, threshold: float, rows: int, min_rows: int) -> bool | None:
    if rows < max(min_rows, 1) or value is None or np.isnan(value):
        return None
    return value > threshold


def _with_missing(ref: list[int], live: list[int], ref_missing: int, live_missing: int) -> Any:
    if ref_missing or live_missing:
        return [*ref, ref_missing], [*live, live_missing]
    return ref, live


def numeric_drift(
    name: str, reference: NumericProfile, values: Any, *, threshold: float, min_rows: int
) -> FeatureDrift:
    tally = (
        values if isinstance(values, NumericTally) else tally_values(tally_for(reference), values)
    )
    assert isinstance(tally, NumericTally)
    counts = [int(c) for c in tally.counts]
    ref, live = _with_missing(reference.counts, counts, reference.missing, tally.missing)
    value = psi(ref, live)
    statistic, p_value = ks_against_reference(reference, tally)
    detail = ""
    if tally.sample.size and "0.5" in reference.quantiles:
        median = float(np.median(tally.sample))
        detail = f"median {reference.quantiles['0.5']:.4g} → {median:.4g}"
    return FeatureDrift(
        name=name,
        kind="numeric",
        rows=tally.rows,
        missing=tally.missing,
        psi=_finite(value),
        threshold=threshold,
        test="ks",
        statistic=statistic,
        p_value=p_value,
        drifted=_verdict(value, threshold, tally.rows, min_rows),
        detail=detail,
    )


def reference_cdf(reference: NumericProfile) -> tuple[np.ndarray, np.ndarray]:
    """Points and the reference's CDF at them (right-continuous): its quantile sketch, or
    the upper edges of its histogram."""
    if reference.sketch:
        points = np.asarray(reference.sketch, dtype=float)
        probs = np.linspace(0, 1, len(points))
        unique, last = np.unique(points[::-1], return_index=True)
        # for tied sketch values the CDF is the largest probability at that value
        return unique, probs[len(points) - 1 - last]
    edges = np.asarray(reference.edges, dtype=float)
    counts = np.asarray(reference.counts, dtype=float)
    total = counts.sum()
    cdf = np.cumsum(counts) / total if total else np.zeros_like(counts)
    return edges[1:], cdf


def ks_against_reference(
    reference: NumericProfile, tally: NumericTally
) -> tuple[float | None, float | None]:
    """(D, two-sided p-value) of the live values against the reference's CDF, read at the
    reference's points (the tally counts the live values at or below each); the p-value is
    the two-sample one, with the effective size n·m/(n+m) of the live and the training rows."""
    n, m = tally.present, sum(reference.counts)
    if n == 0 or m == 0:
        return None, None
    points, cdf = reference_cdf(reference)
    if len(points) != len(tally.at_points):
        raise ValueError(f"{len(points)} reference points but the tally has {len(tally.at_points)}")
    live_cdf = tally.at_points / n
    statistic = float(np.max(np.abs(live_cdf - cdf)))
    effective = max(1, round(n * m / (n + m)))
    return statistic, float(stats.kstwo.sf(statistic, effective))


def categorical_drift(
    name: str, reference: CategoricalProfile, values: Any, *, threshold: float, min_rows: int
) -> FeatureDrift:
    tally = (
        values if isinstance(values, CategoricalTally) else tally_values(CategoricalTally(), values)
    )
    assert isinstance(tally, CategoricalTally)
    levels = list(reference.frequencies)
    live_counts = [int(tally.levels.get(level, 0)) for level in levels]
    live_other = sum(tally.levels.values()) - sum(live_counts)
    ref, live = _with_missing(
        [*reference.frequencies.values(), reference.other],
        [*live_counts, live_other],
        reference.missing,
        tally.missing,
    )
    labels = [*levels, OTHER] + ([MISSING] if len(ref) > len(levels) + 1 else [])
    value = psi(ref, live)
    statistic, p_value = chi_square(ref, live)
    return FeatureDrift(
        name=name,
        kind="categorical",
        rows=tally.rows,
        missing=tally.missing,
        psi=_finite(value),
        threshold=threshold,
        test="chi2",
        statistic=statistic,
        p_value=p_value,
        drifted=_verdict(value, threshold, tally.rows, min_rows),
        detail=_largest_change(labels, ref, live),
    )


def chi_square(ref: list[int], live: list[int]) -> tuple[float | None, float | None]:
    """Chi-square test of homogeneity of two count vectors (levels empty on both sides left
    out); None when fewer than two levels or either side is empty."""
    table = np.asarray([ref, live], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return None, None
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def _largest_change(labels: list[str], ref: list[int], live: list[int]) -> str:
    total_ref, total_live = sum(ref), sum(live)
    if not total_ref or not total_live:
        return ""
    shares = [(r / total_ref, a / total_live) for r, a in zip(ref, live, strict=True)]
    index = int(np.argmax([abs(a - r) for r, a in shares]))
    before, after = shares[index]
    return f"{labels[index]}: {before:.1%} → {after:.1%}"


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 6)
