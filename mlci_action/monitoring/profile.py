"""The reference profile (``reference.json``): what the live model's inputs and outputs looked
like when it was built, for drift and performance monitoring to compare against.

Per feature: a histogram on training quantiles (at most :data:`MAX_BINS` bins), seven
quantiles and a quantile sketch (numeric), or the frequencies of the 50 most frequent levels
(categorical); the distribution of the test-set predictions (and of each class's probability);
the candidate's evaluation metrics with their intervals. The JSON form is the monitoring
contract's ``mlci-reference/1``.

The records import nothing heavy (the run record holds one); :func:`build_profile` needs
numpy and pandas, imported when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import pandas as pd

FORMAT: Literal["mlci-reference/1"] = "mlci-reference/1"
MAX_BINS = 20
MAX_LEVELS = 50
QUANTILES = ("0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99")
SKETCH_POINTS = 101
"""The sketch: the training values' quantiles at 0, 0.01, ..., 1 (KS reads its CDF, linear
between them)."""
PROBABILITY_EDGES = [round(i / 10, 1) for i in range(11)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NumericProfile(_Model):
    kind: Literal["numeric"] = "numeric"
    edges: list[float]
    counts: list[int]
    missing: int = 0
    quantiles: dict[str, float] = Field(default_factory=dict)
    sketch: list[float] | None = None
    """Quantiles at 0, 0.01, ..., 1 of the non-missing values (see SKETCH_POINTS)."""

    @property
    def rows(self) -> int:
        return sum(self.counts) + self.missing


class CategoricalProfile(_Model):
    kind: Literal["categorical"] = "categorical"
    frequencies: dict[str, int]
    """The most frequent levels (at most 50), each as ``str(value)``."""
    other: int = 0
    """Rows of the other levels."""
    missing: int = 0

    @property
    def rows(self) -> int:
        return sum(self.frequencies.values()) + self.other + self.missing


FeatureProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class MetricInterval(_Model):
    value: float | None
    low: float | None = None
    high: float | None = None


class Profile(_Model):
    format: Literal["mlci-reference/1"] = FORMAT
    rows: int
    target: str
    task: Literal["classification", "regression"]
    positive_class: str | int | float | bool | None = None
    features: dict[str, FeatureProfile]
    prediction: FeatureProfile
    probabilities: dict[str, NumericProfile] | None = None
    metrics: dict[str, MetricInterval] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> Profile:
        return cls.model_validate_json(text)


def is_numeric(series: pd.Series) -> bool:
    """Numbers are profiled as histograms; text, categories and booleans as levels."""
    from pandas.api import types

    return bool(types.is_numeric_dtype(series) and not types.is_bool_dtype(series))


def numeric_profile(
    values: Any, *, edges: list[float] | None = None, sketch: bool = True
) -> NumericProfile:
    """A histogram on the values' own quantiles (or on fixed ``edges``), with quantiles."""
    import numpy as np

    from mlci_action.monitoring.bins import bin_counts

    x = np.asarray(values, dtype=float)
    present = x[~np.isnan(x)]
    if present.size == 0:
        edges = edges or [0.0, 0.0]
        return NumericProfile(edges=edges, counts=[0] * (len(edges) - 1), missing=int(x.size))
    if edges is None:
        cuts = np.unique(np.quantile(present, np.linspace(0, 1, MAX_BINS + 1)))
        edges = [float(e) for e in cuts] if cuts.size > 1 else [float(cuts[0])] * 2
    counts, missing = bin_counts(edges, x)
    found = np.quantile(present, [float(q) for q in QUANTILES])
    points = np.quantile(present, np.linspace(0, 1, SKETCH_POINTS)) if sketch else None
    return NumericProfile(
        edges=edges,
        counts=counts,
        missing=missing,
        quantiles={q: float(v) for q, v in zip(QUANTILES, found, strict=True)},
        sketch=None if points is None else [float(p) for p in points],
    )


def level_names(values: Any) -> Any:
    """Each value as the level name a profile keys it by (``str(value)``; missing: None)."""
    import pandas as pd

    return pd.Series(values, dtype=object).map(lambda v: None if pd.isna(v) else str(v))


def level_counts(values: Any) -> tuple[dict[str, int], int]:
    """Every level's count, in order of first appearance, and the missing values' count:
    what partitions merge (summed in file order) before :func:`top_levels`."""
    names = level_names(values)
    counts = names.dropna().value_counts(sort=False)
    return {str(k): int(v) for k, v in counts.items()}, int(names.isna().sum())


def top_levels(counts: dict[str, int], missing: int) -> CategoricalProfile:
    """The :data:`MAX_LEVELS` most frequent levels (ties: the first to appear)."""
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    return CategoricalProfile(
        frequencies=dict(ranked[:MAX_LEVELS]),
        other=sum(count for _, count in ranked[MAX_LEVELS:]),
        missing=missing,
    )


def categorical_profile(values: Any) -> CategoricalProfile:
    return top_levels(*level_counts(values))


def column_profile(series: pd.Series) -> FeatureProfile:
    return numeric_profile(series) if is_numeric(series) else categorical_profile(series)


def build_profile(
    frame: pd.DataFrame | None,
    target: str,
    predictions: Any,
    probabilities: pd.DataFrame | None,
    metrics: dict[str, MetricInterval],
    *,
    task: Literal["classification", "regression"],
    positive_class: str | int | float | bool | None = None,
    features: tuple[dict[str, FeatureProfile], int] | None = None,
) -> Profile:
    """The profile of the training ``frame`` (its ``target`` column left out), the test-set
    ``predictions`` and ``probabilities`` (one column per class, named by the class), and the
    candidate's ``metrics``. ``features``: the training data's feature profiles and row count
    when they were merged from partitions (:mod:`mlci_action.monitoring.merge`), instead of
    a ``frame``."""
    import pandas as pd

    if features is None:
        if frame is None:
            raise ValueError("build_profile needs a frame or its features")
        features = (
            {str(name): column_profile(frame[name]) for name in frame.columns if name != target},
            len(frame),
        )
    profiles, rows = features
    prediction: FeatureProfile = (
        categorical_profile(predictions)
        if task == "classification"
        else numeric_profile(pd.to_numeric(pd.Series(predictions), errors="coerce"))
    )
    probs = None
    if probabilities is not None:
        probs = {
            str(label): numeric_profile(probabilities[label], edges=PROBABILITY_EDGES, sketch=False)
            for label in probabilities.columns
        }
    return Profile(
        rows=rows,
        target=target,
        task=task,
        positive_class=positive_class,
        features=profiles,
        prediction=prediction,
        probabilities=probs,
        metrics=metrics,
    )
