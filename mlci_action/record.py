"""The run record: immutable results that flow through one run and become run.json."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mlci_action.monitoring.profile import Profile


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CACHED = "cached"


class StageResult(Record):
    status: Status
    seconds: float = 0.0
    reason: str | None = None
    log_tail: str | None = None


class Source(Record):
    """One side of the comparison."""

    role: Literal["candidate", "baseline"]
    ref: str
    sha: str | None = None
    dirty: bool = False
    key: str | None = None
    """Content hash of code, data, params and environment: the training cache key."""


class EnvironmentInfo(Record):
    key: str
    python: str
    executor: str
    reused: bool
    packages: dict[str, str] = Field(default_factory=dict)


class ClusterTask(Record):
    """One task that ran on a Ray cluster (the ``ray`` executor): where, and how often."""

    name: str
    node_id: str
    pid: int
    attempts: int = 1
    """More than 1: a node or worker was lost and the task ran again (environment.ray.max_retries)."""
    seconds: float = 0.0
    notes: list[str] = Field(default_factory=list)


class CheckFailure(Record):
    check: str
    column: str | None = None
    count: int
    examples: list[str] = Field(default_factory=list)
    """The first few cases, e.g. ``line 14: 'Adelie '`` (a CSV's line numbers: the header is
    line 1; Parquet: ``row 13``, counted from 1)."""
    file: str | None = None
    """The data file the examples' line numbers refer to, as mlci.yaml names it."""


class DataCheck(Record):
    name: str
    kind: Literal[
        "schema", "columns", "duplicates", "categories", "constant", "leakage", "target", "drift"
    ]
    dataset: str
    """train, test, or train→test / baseline→candidate for comparisons."""
    passed: bool
    severity: Literal["error", "warning"] = "error"
    detail: str = ""
    column: str | None = None
    statistic: float | None = None
    threshold: float | None = None
    failures: list[CheckFailure] = Field(default_factory=list)
    setting: str | None = None
    """The mlci.yaml key that tunes this check, e.g. ``data.checks.leakage.max_rows``."""

    @property
    def outcome(self) -> Literal["failed", "warning", "passed"]:
        """A check that did not pass is a failure, or a warning when its severity says so."""
        if self.passed:
            return "passed"
        return "failed" if self.severity == "error" else "warning"


class DataReport(Record):
    passed: bool
    rows: dict[str, int] = Field(default_factory=dict)
    checks: list[DataCheck] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed_checks(self) -> list[DataCheck]:
        return [check for check in self.checks if check.outcome == "failed"]

    @property
    def warned_checks(self) -> list[DataCheck]:
        return [check for check in self.checks if check.outcome == "warning"]

    @property
    def passed_checks(self) -> list[DataCheck]:
        return [check for check in self.checks if check.outcome == "passed"]

    @property
    def tally(self) -> str:
        """The one count of the checks that the stage, the report and the terminal show, e.g.
        ``12 data checks: 1 failed, 2 warnings, 9 passed`` (a warning is not a pass)."""
        failed, warned = len(self.failed_checks), len(self.warned_checks)
        parts = [f"{failed} failed"] if failed else []
        parts += [f"{warned} warning{'s' if warned != 1 else ''}"] if warned else []
        parts.append(f"{len(self.passed_checks)} passed")
        total = len(self.checks)
        return f"{total} data check{'s' if total != 1 else ''}: {', '.join(parts)}"


class MetricResult(Record):
    baseline: float | None = None
    candidate: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    """The confidence level of ci_low..ci_high (evaluation.bootstrap.confidence)."""
    greater_is_better: bool = True
    significant: bool | None = None
    """Whether the confidence interval of the delta excludes zero."""
    test: Literal["mcnemar", "delong", "bootstrap"] | None = None
    """The test behind ci_low..ci_high and p_value: McNemar's exact test (accuracy), DeLong's
    test (binary ROC AUC), or the paired bootstrap (expanded percentile interval)."""
    p_value: float | None = None
    """Two-sided p-value of no difference against the baseline."""
    p_adjusted: float | None = None
    """Holm-adjusted p-value, when several gates judge significance (set by the gates)."""
    mde: float | None = None
    """Minimum detectable effect: the smallest delta this test set detects with 80 % power at
    the configured confidence."""


class SliceResult(Record):
    """The metrics of one slice of the test set (evaluation.slices)."""

    name: str
    """E.g. ``age >= 65`` or ``region = north``: from the pull request's data; escape it."""
    spec: str
    """The slice as written in evaluation.slices."""
    rows: int
    metrics: dict[str, MetricResult] = Field(default_factory=dict)
    too_small: str | None = None
    """Why the slice is too small to judge (its gates skip it), e.g. "12 rows (fewer than 30)"."""


class GateResult(Record):
    name: str
    metric: str
    passed: bool
    reason: str
    rule: Literal["point", "non_inferiority", "no_significant_regression"] = "point"
    """How the regression limit was judged: the point estimate, or the interval."""
    decided_by: str | None = None
    """The rule that failed the gate (the first), or None when it passed."""
    slice: str | None = None
    """The slice (its name) a slice gate judged; None for the whole test set."""
    mde: float | None = None
    warnings: list[str] = Field(default_factory=list)
    """E.g. a limit below the minimum detectable effect, a slice too small to judge."""


class ModelTest(Record):
    nodeid: str
    outcome: Literal["passed", "failed", "skipped", "error"]
    seconds: float = 0.0
    message: str | None = None


class ModelTestsReport(Record):
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    tests: list[ModelTest] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.errors == 0


class CacheInfo(Record):
    hit: bool
    key: str
    trained: dict[str, bool] = Field(default_factory=dict)
    """Per side, whether the model came from the training cache."""


Label = str | int | float | bool


class Curve(Record):
    """One chart of the report: baseline and candidate as two lines over the same x values
    (down-sampled to at most ~25 points at fixed x positions, so the two are comparable)."""

    kind: Literal[
        "roc",
        "precision_recall",
        "calibration",
        "predicted_vs_actual",
        "residuals",
        "error_by_decile",
    ]
    title: str
    x_label: str
    y_label: str
    x: list[float]
    candidate: list[float]
    baseline: list[float] | None = None
    reference: list[float] | None = None
    """A guide line (chance, perfect calibration, predicted = actual); None: no guide."""
    reference_name: str | None = None
    candidate_area: float | None = None
    """The area under the candidate's curve where one is meaningful (ROC AUC, AP)."""
    baseline_area: float | None = None


class ClassMetrics(Record):
    """Precision, recall and F1 of one class (one-vs-rest), for each model."""

    label: Label
    support: int
    candidate: tuple[float, float, float]
    baseline: tuple[float, float, float] | None = None


class ConfusionMatrix(Record):
    """Rows: the true class; columns: the predicted class. At most a dozen classes, the most
    frequent; the others are counted together under ``other`` (``other`` is True)."""

    labels: list[Label]
    other: bool = False
    candidate: list[list[int]]
    baseline: list[list[int]] | None = None


class Curves(Record):
    """The data behind the report's charts, from the test-set predictions of both models."""

    charts: list[Curve] = Field(default_factory=list)
    confusion: ConfusionMatrix | None = None
    per_class: list[ClassMetrics] = Field(default_factory=list)
    """Multi-class only: the classes by support, most frequent first."""
    classes_omitted: int = 0
    """Classes left out of ``per_class`` (the rarest), to keep the table readable."""


class Evaluation(Record):
    rows: int
    metrics: dict[str, MetricResult]
    predictions_file: str | None = None
    positive_class: Label | None = None
    """The class the binary metrics (f1, precision, recall, roc_auc, average_precision,
    brier_score) scored; None when none of them was evaluated."""
    bootstrap_method: Literal["multinomial", "poisson"] | None = None
    """How the confidence intervals' resamples were drawn (evaluation.bootstrap.method, with
    auto resolved): "multinomial" (rows drawn with replacement, as count weights) or "poisson"
    (independent Poisson(1) counts per row); None when no interval was computed. The label
    metrics' resamples are drawn the same way but as counts per category of row (true label x
    candidate's x baseline's), the same distribution (worker/categories.py). A partitioned
    test set is always "poisson", its weights drawn per partition (seed, partition index)."""
    bootstrap_seed: int | None = None
    """evaluation.bootstrap.seed, when an interval was computed: with the method and the
    partitioning, the intervals are reproducible."""
    partitions: int | None = None
    """The test set's partitions, scored one by one and merged in file order (data.test a
    directory, glob or URL of Parquet files); None for one test file."""
    too_small: str | None = None
    """Why the test set is too small for any interval to mean much; None when it is not."""
    slices: list[SliceResult] = Field(default_factory=list)
    curves: Curves | None = None


class ImageInfo(Record):
    tag: str
    image_id: str
    environment_image: str
    environment_reused: bool
    size_bytes: int
    model_layer_bytes: int
    environment_bytes: int = 0
    build_seconds: float = 0.0
    labels: dict[str, str] = Field(default_factory=dict)


class SmokeTest(Record):
    rows: int
    mismatches: int
    p50_ms: float
    p99_ms: float
    batch_rows_per_s: float
    probabilities: bool = False
    """Probabilities were compared as well as labels."""
    network: str = "host"
    """The server's network: ``host``, or ``container:ID`` (mlci's own, when it runs in one)."""
    examples: list[str] = Field(default_factory=list)


class Deployment(Record):
    pushed: bool
    reason: str
    repository: str | None = None
    digest: str | None = None
    tags: list[str] = Field(default_factory=list)
    archive: str | None = None
    """The image saved as a `docker load` archive, relative to the out dir (no registry)."""
    approved_commit: str | None = None
    """The commit the approving reviews were given on (a pull request's push)."""
    approvers: list[str] = Field(default_factory=list)


class SettingChange(Record):
    """One setting of mlci.yaml that a pull request changes: its values as JSON (None: unset)."""

    key: str
    base: str | None
    head: str | None


class TrustReport(Record):
    """Which configuration a pull request's run used (the GitHub Action on pull-request
    events): the security settings from the base commit, whatever the PR says."""

    base: str
    """The ref and commit the trusted settings were read from, e.g. ``main @ 50a5f2c1bbe5``."""
    ignored: list[SettingChange] = Field(default_factory=list)
    """Security settings the PR changes: not used by this run; they take effect after merge."""
    gates: list[SettingChange] = Field(default_factory=list)
    """Gate changes the PR makes: used (a reviewer approves them), and shown first."""


class RunRecord(Record):
    """Everything a run found. run.json is this record, serialized."""

    schema_version: Literal[1] = 1
    mlci_version: str
    name: str
    verdict: Literal["pass", "fail"]
    summary: str
    started_at: str
    seconds: float
    mode: Literal["compare", "champion"] = "compare"
    """compare: a candidate trained from the source, against a baseline; champion: the model
    in production re-evaluated on the current data and tests (`mlci run --champion`)."""
    candidate: Source
    baseline: Source | None = None
    stages: dict[str, StageResult]
    metrics: dict[str, MetricResult] = Field(default_factory=dict)
    positive_class: Label | None = None
    """The class the binary metrics scored (see Evaluation)."""
    gates: list[GateResult] = Field(default_factory=list)
    slices: list[SliceResult] = Field(default_factory=list)
    too_small: str | None = None
    """Why the test set is too small for any interval to mean much (see Evaluation)."""
    bootstrap_method: Literal["multinomial", "poisson"] | None = None
    """How the bootstrap intervals' resamples were drawn (see Evaluation); None: none drawn."""
    bootstrap_seed: int | None = None
    test_partitions: int | None = None
    """The test set's partitions (data.test in Parquet files), scored one by one and merged;
    None for one test file. With the method and the seed: reproducible intervals."""
    data: DataReport | None = None
    model_tests: ModelTestsReport | None = None
    environment: EnvironmentInfo | None = None
    cluster: list[ClusterTask] = Field(default_factory=list)
    """Tasks that ran on a Ray cluster, in the order they finished (``ray`` executor)."""
    baseline_environment: EnvironmentInfo | None = None
    """The baseline's environment, when this run prepared it (None: its model came from the
    cache, or there is no baseline); the report shows the package changes between the two."""
    curves: Curves | None = None
    """The data behind the report's charts (ROC, precision-recall, calibration, confusion
    matrix; predicted vs actual, residuals, error by decile)."""
    params: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    """Flattened training parameters that differ: {name: {baseline, candidate}}."""
    cache: CacheInfo
    image: ImageInfo | None = None
    smoke_test: SmokeTest | None = None
    reference_profile: Profile | None = None
    """The reference profile stored in the serving image (reference.json; --package): the
    training data's distribution, the test-set predictions', the metrics with intervals."""
    deployment: Deployment | None = None
    trust: TrustReport | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)
    """Files written for this run, relative to the out dir (models, predictions)."""
