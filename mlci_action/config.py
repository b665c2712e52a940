"""mlci.yaml as typed, immutable records, checked once at entry."""

from __future__ import annotations

import difflib
import re
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mlci_action.errors import ConfigError
from mlci_action.metrics import CATALOG, DEFAULT_METRICS, Task
from mlci_action.slices import parse_slice
from mlci_action.yamlfile import YamlDocument, load_yaml

CONFIG_FILE = "mlci.yaml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*\*?$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeakageCheck(_Model):
    enabled: bool = True
    max_rows: Annotated[int, Field(ge=0)] = 0
    """How many rows may appear in both the train and the test file."""


class TargetCheck(_Model):
    enabled: bool = True
    max_missing: Annotated[float, Field(ge=0, le=1)] = 0.0
    """Largest share of missing target values allowed in either file."""
    min_class_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    """Classification: every class must hold at least this share of the training rows."""
    max_shift: Annotated[float, Field(ge=0, le=1)] = 0.25
    """Largest train/test shift of the target: total variation distance of the class shares
    (classification) or the KS statistic (regression)."""
    max_baseline_shift: Annotated[float, Field(ge=0, le=1)] = 0.1
    """Largest shift of the target between the baseline's and the candidate's training data
    (in a comparison), measured as max_shift is."""


class DriftCheck(_Model):
    enabled: bool = True
    ks_threshold: Annotated[float, Field(gt=0, le=1)] = 0.2
    """Numeric features: the largest two-sample KS statistic counted as no drift."""
    psi_threshold: Annotated[float, Field(gt=0)] = 0.2
    """Categorical features: the largest population stability index counted as no drift."""
    fail_on_drift: bool = False
    """Drift is reported as a warning unless this is true."""


class ColumnsCheck(_Model):
    enabled: bool = True
    strict: bool = True
    """The train and test files must have the same columns; false: a difference is a warning."""


class DuplicatesCheck(_Model):
    enabled: bool = True
    max_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    """Largest share of a file's rows that may repeat an earlier row of the same file exactly."""


class CategoriesCheck(_Model):
    enabled: bool = True
    max_rows: Annotated[int, Field(ge=0)] = 0
    """How many rows may hold a category (of a text, category or boolean column, or a class of
    the target) that the other file never has."""
    max_levels: Annotated[int, Field(ge=1)] = 50
    """Columns with more distinct values than this are not categorical (IDs, free text)."""


class ConstantCheck(_Model):
    enabled: bool = True
    """A feature column with one value in every training row (missing included) fails."""


class DataChecks(_Model):
    leakage: LeakageCheck = LeakageCheck()
    target: TargetCheck = TargetCheck()
    drift: DriftCheck = DriftCheck()
    columns: ColumnsCheck = ColumnsCheck()
    duplicates: DuplicatesCheck = DuplicatesCheck()
    categories: CategoriesCheck = CategoriesCheck()
    constant: ConstantCheck = ConstantCheck()


class Prepare(_Model):
    """A command that brings the data up to date before a trusted run hashes it."""

    command: Annotated[str, Field(min_length=1)]
    """Run in the project's directory and environment (the executor's), never through a
    shell; ``{train}`` and ``{test}`` (also $MLCI_TRAIN_PATH, $MLCI_TEST_PATH) are the data
    files, which are what it may write (the docker executor copies back only those)."""
    timeout: Annotated[int, Field(gt=0)] = 600
    """Seconds before the command is stopped and the run ends (exit 2)."""


class Data(_Model):
    train: str
    test: str
    target: str
    schema_: Annotated[str | None, Field(alias="schema")] = None
    """``path.py:ClassName`` (a pandera DataFrameModel) or ``path.yaml`` (pandera's YAML)."""
    checks: DataChecks = DataChecks()
    prepare: Prepare | None = None
    """A command run before the data is hashed, only on trusted events (in the GitHub Action:
    push, schedule and workflow_dispatch on the default branch; never for a pull request;
    `mlci run --prepare` locally): how a retraining picks up fresh data. A string is the
    command with the default timeout."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("prepare", mode="before")
    @classmethod
    def _prepare_shorthand(cls, value: object) -> object:
        return {"command": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _schema_form(self) -> Data:
        if self.schema_ is not None:
            path, _, name = self.schema_.partition(":")
            if path.endswith(".py") and not name:
                raise ValueError(
                    "a Python schema must name its class: 'schema.py:MySchema' "
                    "(a pandera DataFrameModel)"
                )
            if not path.endswith((".py", ".yaml", ".yml")):
                raise ValueError(
                    "schema must be 'file.py:ClassName' (pandera DataFrameModel) "
                    "or 'file.yaml' (pandera YAML schema)"
                )
        return self


class Ray(_Model):
    """Where the ``ray`` executor sends the project's tasks (trusted: a pull request cannot
    change it; on pull-request events it is read from the base branch)."""

    address: Annotated[str | None, Field(pattern=r"^ray://[^\s/]+:[0-9]{1,5}$")] = None
    """The cluster's Ray Client address, ``ray://host:10001``; default: $RAY_ADDRESS (keep it
    in a secret: whoever reaches the address runs code on the cluster)."""
    connect_timeout: Annotated[int, Field(gt=0, le=600)] = 20
    """Seconds to reach the cluster before the run stops (exit 2)."""
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    """How often a task is run again elsewhere when its node or worker process is lost."""
    excludes: list[str] = Field(default_factory=list)
    """More gitignore-style patterns kept out of the working directory shipped to the cluster
    (the data files, .git, virtual environments and files over 10 MB always are)."""


class Environment(_Model):
    requirements: list[str] = Field(default_factory=lambda: ["requirements.txt"])
    lock: str | None = None
    """A fully pinned requirements file (uv/pip-compile format), installed with ``uv pip sync``."""
    python: Annotated[str | None, Field(pattern=r"^3\.\d{1,2}$")] = None
    """Python version of the environment, e.g. "3.11"; default: the one running mlci."""
    executor: Literal["auto", "docker", "local", "current", "ray"] = "auto"
    """docker: stages run in the environment image; local: a uv virtual environment per
    requirements hash; current: mlci's own interpreter; auto: docker when a Docker daemon
    answers, local otherwise; ray: tasks on a Ray cluster (environment.ray). MLCI_EXECUTOR
    overrides it. In the GitHub Action, a pull request's code runs in docker, or on the Ray
    cluster when the base branch's mlci.yaml says ray."""
    ray: Ray = Ray()
    network: Literal["none", "bridge", "host"] = "none"
    """The network of the containers that run the project's code (docker executor): none by
    default; building the environment image may use the network, running the code may not."""
    memory: Annotated[str | None, Field(pattern=r"^[1-9][0-9]*[kmg]$")] = None
    """Memory limit of those containers, e.g. "6g"; default: four fifths of the machine's."""
    pids: Annotated[int, Field(ge=64)] = 4096
    """Process (and thread) limit of those containers."""
    pass_env: list[Annotated[str, Field(pattern=_ENV_PATTERN)]] = Field(default_factory=list)
    """Variables of mlci's own environment passed to the project's code (training, model
    tests, schema code) and to the environment build: exact names, or PREFIX_* patterns.
    Nothing else is passed but PATH, HOME, the locale, TZ and mlci's MLCI_* task variables."""


class Resources(_Model):
    """What one training task asks of a Ray cluster (the ``ray`` executor; ignored elsewhere)."""

    num_cpus: Annotated[float, Field(ge=0)] = 1
    num_gpus: Annotated[float, Field(ge=0)] = 0
    memory: Annotated[str | None, Field(pattern=r"^[1-9][0-9]*[kmg]?$")] = None
    """Memory to reserve, e.g. "4g" (bytes without a suffix)."""
    custom: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:/-]{1,128}$")], Annotated[float, Field(gt=0)]
    ] = Field(default_factory=dict)
    """Custom resources of the cluster's nodes, e.g. {"accelerator_type:A100": 1}."""

    def memory_bytes(self) -> int | None:
        if self.memory is None:
            return None
        scale = {"k": 2**10, "m": 2**20, "g": 2**30}.get(self.memory[-1], 1)
        return int(self.memory.rstrip("kmg")) * scale


class Training(_Model):
    command: str | None = None
    """A command that writes a skops model file to ``$MLCI_MODEL_PATH`` (also ``{model}``)."""
    estimator: str | None = None
    """Or: a scikit-learn estimator by import path, e.g. sklearn.linear_model.Ridge."""
    preprocess: Literal["auto", "none"] = "auto"
    """With ``estimator``: auto fits it in a Pipeline that one-hot encodes non-numeric columns
    and imputes numeric ones (when the train file needs either), so the model takes the raw
    columns; none fits the bare estimator."""
    params: dict[str, Any] = Field(default_factory=dict)
    params_file: str | None = None
    """A YAML or JSON file of training parameters, shown in the params diff."""
    seed: int = 42
    timeout: Annotated[int, Field(gt=0)] = 3600
    resources: Resources = Resources()
    """CPUs, GPUs, memory and custom resources of each training task on a Ray cluster."""

    @model_validator(mode="after")
    def _one_way(self) -> Training:
        if (self.command is None) == (self.estimator is None):
            raise ValueError("give exactly one of 'command' or 'estimator'")
        if self.estimator is not None and "." not in self.estimator:
            raise ValueError(
                "'estimator' is an import path, e.g. sklearn.ensemble.RandomForestClassifier"
            )
        return self


class Bootstrap(_Model):
    resamples: Annotated[int, Field(ge=0, le=100_000)] = 1000
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    seed: int = 0
    method: Literal["auto", "multinomial", "poisson"] = "auto"
    """How resamples are drawn: multinomial (rows drawn with replacement, the classic
    bootstrap), poisson (independent Poisson(1) counts per row; for very large test sets), or
    auto (poisson above 1,000,000 test rows)."""


def _slice(text: str) -> str:
    parse_slice(text)  # a ValueError names the expression and the accepted forms
    return text


class Evaluation(_Model):
    task: Task
    metrics: list[str] = Field(default_factory=list)
    positive_class: str | int | bool | None = None
    """Binary classification: the class whose f1, precision, recall, roc_auc,
    average_precision and brier_score are reported, spelled as in the target column. Default:
    the obvious one (1 against 0 or -1, True, or a label "1", "yes", "true" or "positive");
    other labels ('bought' and 'not_bought') must name it here."""
    bootstrap: Bootstrap = Bootstrap()
    trusted_types: list[str] = Field(default_factory=list)
    """Exact names (classes or functions) beyond mlci's allow-list that a model file may hold
    (see mlci_action.worker.modelio). On a pull request, read from the base branch."""
    slices: list[Annotated[str, AfterValidator(_slice)]] = Field(default_factory=list)
    """Parts of the test set scored on their own: a column (one slice per value, the 10 most
    frequent, the rest grouped) or a comparison ``column OP value`` (OP one of == != >= <= >
    <; value a number, a quoted string, true or false), e.g. ``age >= 65``."""

    @model_validator(mode="after")
    def _known_metrics(self) -> Evaluation:
        for name in self.metrics:
            spec = CATALOG.get(name)
            if spec is None:
                known = [n for n, s in CATALOG.items() if s.task == self.task]
                raise ValueError(
                    f"unknown metric {name!r}{did_you_mean(name, known)} "
                    f"known for {self.task}: {', '.join(known)}"
                )
            if spec.task != self.task:
                raise ValueError(f"metric {name!r} is for {spec.task}, not {self.task}")
        if self.positive_class is not None and self.task != "classification":
            raise ValueError("positive_class is for classification; remove it for regression")
        return self

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(self.metrics) or DEFAULT_METRICS[self.task]


Rule = Literal["point", "non_inferiority", "no_significant_regression"]


class SliceGate(_Model):
    """A regression limit that every slice (evaluation.slices) must keep on its own."""

    max_regression: Annotated[float, Field(ge=0)] = 0.0
    """Largest absolute worsening of a slice's metric against the baseline's on that slice."""
    rule: Rule | None = None
    """How the limit is judged (see Gate.rule); default: the gate's own rule."""


class Gate(_Model):
    """MLflow MetricThreshold semantics, plus friendlier regression limits."""

    threshold: float | None = None
    """Absolute floor (greater is better) or ceiling (smaller is better)."""
    min_absolute_change: float | None = None
    """The candidate must beat the baseline by at least this much; negative allows a regression."""
    min_relative_change: float | None = None
    """As min_absolute_change, relative to the baseline's value."""
    max_regression: Annotated[float | None, Field(ge=0)] = None
    """Largest absolute worsening allowed against the baseline."""
    max_relative_regression: Annotated[float | None, Field(ge=0)] = None
    """Largest relative worsening allowed against the baseline (0.02 = 2 %)."""
    greater_is_better: bool | None = None
    """Default: from the metric."""
    require_significant: bool = False
    """An improvement only counts when it is significant (its p-value below 1 - confidence;
    Holm-adjusted when several gates judge significance)."""
    rule: Rule = "point"
    """How max_regression and max_relative_regression are judged: point (the change itself),
    non_inferiority (pass only if the confidence interval's worse end is within the limit),
    no_significant_regression (fail only if the whole interval is past the limit). Without a
    limit, an interval rule judges a limit of 0."""
    slices: SliceGate | None = None
    """A regression limit for each slice of evaluation.slices."""
    without_baseline: Literal["fail", "pass"] = "fail"
    """When a baseline was expected but none could be scored (the registry could not be
    asked, the baseline failed to train or to score): the comparison rules fail, unless this
    says pass. A first model (nothing at the baseline yet) is never held against them."""


class ModelTests(_Model):
    path: str = "tests"
    timeout: Annotated[int, Field(gt=0)] = 900
    args: list[str] = Field(default_factory=list)


class DeployPolicy(_Model):
    """When the GitHub Action may push an image whose run passed."""

    on_push_to: list[str] = Field(default_factory=lambda: ["main"])
    """Branches whose pushes ship (the repository's default branch always counts)."""
    required_approvals: Annotated[int, Field(ge=0)] = 1
    """Approving reviews, by users with write permission other than the author, that make a
    pull_request_review event ship the PR's image; 0 turns review-triggered pushes off."""
    on_pull_request: bool = False
    """Push on every pull_request event (not recommended)."""
    allow_dispatch: bool = True
    """A manual workflow_dispatch by a user with write permission ships."""


class Deploy(_Model):
    registry: str | None = None
    """Registry host, e.g. ghcr.io or 127.0.0.1:5000; none: the image is saved as an archive."""
    image: str | None = None
    """Repository path in the registry, e.g. acme/churn-model; default: the model's name."""
    tags: list[str] = Field(default_factory=lambda: ["latest"])
    """Moving tags, moved only after the push by digest succeeded."""
    champion_tag: str = "production"
    """The tag of the model in production: `--base registry` compares against it."""
    base_image: str = "python:3.12-slim"
    dockerfile: str | None = None
    """The project's own Dockerfile for the environment image, instead of mlci's template."""
    smoke_test: bool = True
    """Start the serving image and replay test rows through it before anything ships."""
    smoke_rows: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    """How many test rows (the first ones) the smoke test replays, one by one and batched."""
    policy: DeployPolicy = DeployPolicy()
    environments: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]] = Field(
        default_factory=lambda: ["staging", "production"]
    )
    """The stages a model goes through, each a GitHub environment (and a tag, by promote): a
    push from the deploy branch is a deployment to the first; promote/rollback to a tag of
    this list is a deployment to that environment."""

    def repository(self, name: str) -> str | None:
        if self.registry is None:
            return None
        return f"{self.registry.rstrip('/')}/{self.image or name}"


def _duration(text: str) -> str:
    from mlci_action.monitoring.window import parse_duration

    parse_duration(text)  # a ValueError says the form
    return text


class DriftLimit(_Model):
    psi: Annotated[float, Field(gt=0)] = 0.2
    """The largest population stability index of a feature counted as no drift."""
    features: list[str] | None = None
    """Judge only these features (default: every feature of the reference profile)."""


class PredictionDriftLimit(_Model):
    psi: Annotated[float, Field(gt=0)] = 0.2


class MonitorGate(_Model):
    """A limit on a live metric (or, without labels, on its estimate)."""

    min: float | None = None
    """The live value may not fall below this."""
    max: float | None = None
    """The live value may not rise above this (for metrics where smaller is better)."""
    max_regression: Annotated[float | None, Field(ge=0)] = None
    """Largest absolute worsening against the candidate's value when it was built."""
    rule: Rule = "point"
    """As in gates: point (the live value itself), non_inferiority (breached unless the
    interval's worse end keeps the limit), no_significant_regression (breached only when the
    whole interval is past it)."""

    @model_validator(mode="after")
    def _one_limit(self) -> MonitorGate:
        if self.min is None and self.max is None and self.max_regression is None:
            raise ValueError("give a limit: min, max or max_regression")
        return self


class Monitoring(_Model):
    """`mlci monitor`: the inference log, the window and the limits (trusted settings)."""

    log: str | None = None
    """The inference log: a directory or an fsspec URL (s3://..., gs://...)."""
    window: Annotated[str, AfterValidator(_duration)] = "24h"
    """The default --since: a number and a unit (s, m, h, d, w), e.g. 24h."""
    min_rows: Annotated[int, Field(ge=1)] = 500
    """Fewer live rows in the window: "not enough traffic", no drift verdict, never a pass."""
    drift: DriftLimit = DriftLimit()
    prediction_drift: PredictionDriftLimit = PredictionDriftLimit()
    performance: dict[str, MonitorGate] = Field(default_factory=dict)
    """Limits on live metrics (those of evaluation.metrics)."""
    labels: str | None = None
    """Ground-truth labels (CSV, JSONL or Parquet: id, row, the target), the default --labels."""
    reference: str | None = None
    """The reference profile the GitHub Action's monitor compares with: a reference.json or
    run.json in the repository, or a serving image (pulled); default: the champion's image
    (deploy.registry, deploy.champion_tag)."""
    retrain_workflow: (
        Annotated[str, Field(pattern=r"^([A-Za-z0-9._-]+\.ya?ml|[1-9][0-9]*)$")] | None
    ) = None
    """The workflow the GitHub Action dispatches (inputs action=retrain, reason) when the
    nightly monitor finds a breach: a file name under .github/workflows/ (or its id) on the
    default branch; default: no retraining is started."""


class Config(_Model):
    version: Literal[1] = 1
    name: Annotated[str, Field(pattern=_NAME.pattern)]
    """The model's name: lower case, digits, '.', '_' and '-'."""
    data: Data
    environment: Environment = Environment()
    training: Training
    evaluation: Evaluation
    gates: dict[str, Gate] = Field(default_factory=dict)
    model_tests: ModelTests | None = None
    deploy: Deploy = Deploy()
    baseline: str | None = None
    """Default git ref to compare against when --base is not given."""
    monitoring: Monitoring = Monitoring()

    @model_validator(mode="after")
    def _gates_name_metrics(self) -> Config:
        names = self.evaluation.metric_names
        for name in self.monitoring.performance:
            if name not in names:
                raise ValueError(
                    f"monitoring.performance {name!r} names a metric that is not evaluated"
                    f"{did_you_mean(name, list(names))} "
                    f"add it to evaluation.metrics ({', '.join(names)})"
                )
        for name in self.gates:
            if name not in names:
                raise ValueError(
                    f"gate {name!r} names a metric that is not evaluated"
                    f"{did_you_mean(name, list(names))} "
                    f"add it to evaluation.metrics ({', '.join(names)})"
                )
            if self.gates[name].slices is not None and not self.evaluation.slices:
                raise ValueError(
                    f"gate {name!r} has a slices limit, but evaluation.slices names no slices"
                )
        return self


def did_you_mean(name: str, choices: list[str]) -> str:
    """``"; did you mean 'X'?"`` for the closest of ``choices`` to a mistyped name, else ";"."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ";"


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind == "literal_error" and isinstance(error.get("input"), str):
        choices = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        guess = did_you_mean(error["input"], choices).rstrip(";")
        return f"{error['input']!r} is not one of {', '.join(choices)}{guess}"
    if (
        "input" in error
        and kind not in ("model_type", "dict_type")
        and not isinstance(error["input"], dict)
    ):
        message += f" (got {error['input']!r})"
    return message


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds, and whether it holds a dict of them (gates: dict[str, Gate]);
    through Optional and Annotated."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_of(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found[0] is not None:
                return found
        return None, False
    if origin is dict:
        inner, _ = _model_of(get_args(annotation)[1])
        return inner, inner is not None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys mlci.yaml allows where ``loc`` points (its last part is the unknown key)."""
    model: type[BaseModel] | None = Config
    keyed = False  # the next part of loc is a dict key (a gate's metric), not a field
    for part in loc[:-1]:
        if model is None or not isinstance(part, str):
            return []
        if keyed:
            keyed = False
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return []
        model, keyed = _model_of(field.annotation)
    if model is None or keyed:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def parse_config(doc: YamlDocument) -> Config:
    if not isinstance(doc.data, dict):
        raise ConfigError(
            f"{doc.path}: expected a mapping of keys (name, data, training, evaluation, ...), "
            f"got {type(doc.data).__name__}",
            hint="run `mlci init` to scaffold one, or `mlci schema` for the full schema",
        )
    try:
        return Config.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            line = doc.line_of(loc)
            where = f"{doc.path}:{line}" if line else str(doc.path)
            text = f"{where}: {field}: {_describe(error)}"
            if error["type"] == "extra_forbidden":
                allowed = _allowed_keys(loc)
                if allowed:
                    hint = did_you_mean(str(loc[-1]), allowed)
                    text += f"{hint} expected one of: {', '.join(allowed)}"
            problems.append(text)
        raise ConfigError(
            "mlci.yaml is not valid:\n  " + "\n  ".join(problems),
            hint="`mlci schema` prints the JSON Schema of mlci.yaml",
        ) from None


def load_config(project: Path) -> Config:
    path = project / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path}: no mlci.yaml in {project}",
            hint="run `mlci init` in the repository to create one",
        )
    return parse_config(load_yaml(path))


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlci.yaml"
    return schema
