"""The monitor's run record: what `mlci monitor` found, serialized as run.json (kind
"monitor"), rendered by the same Markdown machinery as `mlci run`.

Every string here that came from the inference log (feature names, category values, request
ids) is the caller's: the report escapes it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["healthy", "breached", "no_traffic", "not_enough_traffic"]
"""healthy (exit 0); breached, no traffic or not enough traffic (exit 1: never a pass)."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureDrift(_Record):
    name: str
    kind: Literal["numeric", "categorical"]
    rows: int
    """Live rows (missing values included)."""
    missing: int = 0
    psi: float | None
    threshold: float
    test: Literal["ks", "chi2"]
    """ks: live values against the reference's quantile sketch (its histogram edges when it
    has none); chi2: the live level counts against the reference's (homogeneity)."""
    statistic: float | None = None
    p_value: float | None = None
    drifted: bool | None
    """None: too few live rows for a verdict."""
    detail: str = ""
    """What moved, e.g. ``median 0.1 → 1.1`` or the level whose share changed most."""


class LiveMetric(_Record):
    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    confidence: float
    rows: int
    estimate: bool = False
    """True: estimated from the model's confidences (CBPE), not measured against labels."""
    reference: float | None = None
    """The candidate's value on the test set when it was built (the reference profile)."""
    reference_low: float | None = None
    reference_high: float | None = None


class Breach(_Record):
    kind: Literal["drift", "prediction_drift", "performance"]
    name: str
    """The feature, "prediction", or the metric."""
    reason: str
    setting: str
    """The mlci.yaml key that sets the limit, e.g. ``monitoring.drift.psi``."""


class LogCounts(_Record):
    files: int = 0
    lines: int = 0
    """Records read (lines of JSONL files, rows of Parquet files)."""
    malformed: int = 0
    malformed_examples: list[str] = Field(default_factory=list)
    """``file:line: why`` of the first few malformed lines."""
    outside_window: int = 0
    rows: int = 0
    """Rows in the window: the live rows monitored."""


class LabelsInfo(_Record):
    source: str
    rows: int
    matched: int
    """Live rows that found their label (by request id and row)."""


class Window(_Record):
    since: str | None = None
    """E.g. "24h"; None: every record of the given files."""
    start: str | None = None
    end: str
    first: str | None = None
    last: str | None = None
    """The first and the last record time in the window."""


class MonitorRecord(_Record):
    kind: Literal["monitor"] = "monitor"
    schema_version: Literal[1] = 1
    mlci_version: str
    name: str
    verdict: Verdict
    summary: str
    started_at: str
    seconds: float
    sources: list[str]
    reference: str
    """Where the reference profile came from (a file, or run.json)."""
    reference_rows: int
    window: Window
    counts: LogCounts
    min_rows: int
    breaches: list[Breach] = Field(default_factory=list)
    drift: list[FeatureDrift] = Field(default_factory=list)
    prediction_drift: FeatureDrift | None = None
    probability_drift: list[FeatureDrift] = Field(default_factory=list)
    """Per class (``name``), the predicted probability's distribution against the test set's
    (PSI over ten bins of width 0.1); reported under ``monitoring.prediction_drift.psi``, not
    a limit of its own."""
    performance: list[LiveMetric] = Field(default_factory=list)
    labels: LabelsInfo | None = None
    models: list[str] = Field(default_factory=list)
    """The model versions and image digests seen in the window."""
