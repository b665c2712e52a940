"""Worker task "evaluate": score the candidate (and the baseline) on the test file."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlci_action.errors import InputError, MlciError, StageFailure
from mlci_action.metrics import CATALOG, MetricSpec
from mlci_action.record import Curves, Evaluation, SliceResult
from mlci_action.worker import smoke_cases
from mlci_action.worker.compare import Paired, Settings, Values, caution, compare
from mlci_action.worker.curves import classification_curves, regression_curves
from mlci_action.worker.frames import read_table, split_xy
from mlci_action.worker.modelio import load_model
from mlci_action.worker.positive import Label, resolve_positive
from mlci_action.worker.resampling import resolve_method
from mlci_action.worker.scoring import metric_values
from mlci_action.worker.slicing import Slice, SlicePart, merged_slices, slice_part

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Predictions:
    role: str
    labels: Array
    proba: Array | None
    classes: Array | None
    """The model's classes_, the order of the ``proba`` columns."""


@dataclass(frozen=True)
class Answers:
    """What the models answered on the test rows (one file, or one partition of them, or
    the partitions merged in file order): the few bytes a row the metrics need, never the
    features but the first rows' (the smoke cases)."""

    truth: Array
    candidate: Predictions
    baseline: Predictions | None
    slices: SlicePart
    head: pd.DataFrame
    """The first rows' features, for the smoke cases (empty when none are asked for)."""


def run(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("partitioned"):  # one partition at a time (mlci_action.worker.partition_scores)
        from mlci_action.worker.partition_scores import run_partitioned

        return run_partitioned(request)
    test_path = request["test_path"]
    frame = read_table(test_path, what="test file")
    answers = answer(request, load_models(request), frame, test_path)
    return evaluate(request, answers).model_dump(mode="json")


def load_models(request: dict[str, Any]) -> tuple[object, object | None]:
    trusted = list(request.get("trusted_types") or [])
    baseline = request.get("baseline_model")
    return (
        load_model(request["candidate_model"], trusted),
        load_model(baseline, trusted) if baseline else None,
    )


def answer(
    request: dict[str, Any],
    models: tuple[object, object | None],
    frame: pd.DataFrame,
    name: str,
    *,
    head: bool = True,
) -> Answers:
    """Both models' answers on ``frame`` (the test file ``name``, or one of its partitions);
    ``head``: keep the first rows' features for the smoke cases (when asked for)."""
    features, target = split_xy(frame, request["target"], name)
    specs = [_spec(metric, request["task"]) for metric in request["metrics"]]
    proba_metrics = [spec.name for spec in specs if spec.input == "proba"]
    classify = request["task"] == "classification"
    candidate = _predict(models[0], "candidate", features, proba_metrics, classify)
    # probabilities when it has them: the ROC and precision-recall curves overlay both
    baseline = (
        None
        if models[1] is None
        else _predict(models[1], "baseline", features, proba_metrics, classify)
    )
    smoke = head and bool(request.get("smoke_path"))
    rows = int(request.get("smoke_rows") or 1000) if smoke else 0
    return Answers(
        target.to_numpy(),
        candidate,
        baseline,
        slice_part(frame, list(request.get("slices") or [])),
        features.iloc[:rows].reset_index(drop=True),
    )


def evaluate(
    request: dict[str, Any], answers: Answers, partition: Array | None = None
) -> Evaluation:
    """The metrics, intervals, slices, curves and files from the models' answers.
    ``partition``: each row's partition index (a partitioned test set; its bootstrap is the
    Poisson bootstrap drawn per partition)."""
    specs = [_spec(name, request["task"]) for name in request["metrics"]]
    truth, candidate, baseline = answers.truth, answers.candidate, answers.baseline
    proba_metrics = [spec.name for spec in specs if spec.input == "proba"]
    classify = request["task"] == "classification"

    classes = _shared_classes(candidate, baseline) if classify else None
    sides = [side for side in (candidate, baseline) if side is not None]
    probas = [_aligned(side, classes) for side in sides]
    if proba_metrics:
        for side in sides:
            _check_labels(truth, side, classes)

    positive = _positive(specs, truth, candidate, classes, request.get("positive_class"))
    boot = Resampling.parse(request.get("bootstrap") or {})
    values: Values = {
        spec.name: [
            _value(spec, truth, side, proba, classes, positive)
            for side, proba in zip(sides, probas, strict=True)
        ]
        for spec in specs
    }
    paired = None
    method = "poisson" if partition is not None else resolve_method(boot.method, len(truth))
    if baseline is not None:
        paired = Paired(
            truth,
            candidate.labels,
            probas[0],
            baseline.labels,
            probas[1],
            classes,
            positive,
            partition,
        )
    settings = Settings(boot.resamples, boot.confidence, boot.seed, method)
    sliced = [
        _slice(part, truth, specs, sides, probas, (classes, positive, classify), paired, settings)
        for part in merged_slices(answers.slices, list(request.get("slices") or []))
    ]
    written = _write_predictions(request.get("predictions_path"), candidate)
    if request.get("smoke_path"):
        rows = len(answers.head)
        smoke_cases.write(
            request["smoke_path"],
            answers.head,
            candidate.labels[:rows],
            None if candidate.proba is None else candidate.proba[:rows],
            candidate.classes,
            int(request.get("smoke_rows") or 1000),
        )
    curves = (
        _curves(truth, sides, probas, classes, positive, request.get("positive_class"))
        if classify
        else regression_curves(truth, [side.labels for side in sides])
    )
    bootstrapped = baseline is not None and boot.resamples > 0
    return Evaluation(
        rows=len(truth),
        curves=curves,
        metrics=compare(specs, values, paired, settings),
        predictions_file=written,
        positive_class=positive,
        bootstrap_method=method if bootstrapped else None,
        bootstrap_seed=boot.seed if bootstrapped else None,
        too_small=caution(truth, classify),
        slices=sliced,
    )


def _curves(
    truth: Array,
    sides: list[Predictions],
    probas: list[Array | None],
    classes: Array | None,
    positive: Label | None,
    configured: Label | None,
) -> Curves:
    if positive is None and classes is not None and len(classes) == 2:
        try:  # no binary metric asked for the positive class: the curves still want one
            positive = resolve_positive(classes.tolist(), configured)
        except MlciError:
            positive = None
    return classification_curves(truth, [side.labels for side in sides], probas, classes, positive)


@dataclass(frozen=True)
class Resampling:
    resamples: int
    confidence: float
    seed: int
    method: str
    """auto, multinomial or poisson (evaluation.bootstrap.method)."""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Resampling:
        return cls(
            int(raw.get("resamples", 0)),
            float(raw.get("confidence", 0.95)),
            int(raw.get("seed", 0)),
            str(raw.get("method", "auto")),
        )


def _positive(
    specs: list[MetricSpec],
    truth: Array,
    candidate: Predictions,
    classes: Array | None,
    configured: Label | None,
) -> Label | None:
    """The positive class the binary metrics score, when one is configured (None otherwise).
    More than two classes: the metrics themselves say which metric to use instead."""
    if not any(spec.needs_positive for spec in specs):
        return None
    if classes is None:
        classes = pd.unique(np.concatenate([truth, candidate.labels]))
    labels = [label for label in classes.tolist() if not pd.isna(label)]
    return resolve_positive(labels, configured) if len(labels) == 2 else None


def _slice(
    part: Slice,
    truth: Array,
    specs: list[MetricSpec],
    sides: list[Predictions],
    probas: list[Array | None],
    scoring: tuple[Array | None, Label | None, bool],
    paired: Paired | None,
    settings: Settings,
) -> SliceResult:
    """One slice's metrics; a metric undefined on the slice (one class only) has no value."""
    classes, positive, classify = scoring
    mask = part.mask
    values: Values = {}
    for spec in specs:
        found: list[float | None] = []
        for side, proba in zip(sides, probas, strict=True):
            rows = replace(side, labels=side.labels[mask])
            try:
                found.append(_value(spec, truth[mask], rows, _take(proba, mask), classes, positive))
            except StageFailure:  # undefined here (e.g. roc_auc of one class), or no rows
                found.append(None)
        values[spec.name] = found
    metrics = compare(specs, values, None if paired is None else paired.subset(mask), settings)
    return SliceResult(
        name=part.name,
        spec=part.spec,
        rows=int(mask.sum()),
        metrics=metrics,
        too_small=caution(truth[mask], classify),
    )


def _take(values: Array | None, mask: Array) -> Array | None:
    return None if values is None else values[mask]


def _spec(name: str, task: str) -> MetricSpec:
    spec = CATALOG.get(name)
    if spec is None or spec.task != task:
        known = ", ".join(n for n, s in CATALOG.items() if s.task == task)
        raise InputError(f"metric {name!r} is not a {task} metric", hint=f"known: {known}")
    return spec


def _predict(
    model: object,
    role: str,
    features: pd.DataFrame,
    proba_metrics: list[str],
    classify: bool,
    *,
    need_proba: bool = True,
) -> Predictions:
    """Labels always; probabilities when a metric needs them, or for the candidate's
    predictions file (``need_proba``) when the model has predict_proba."""
    name = model.__class__.__name__
    predict = getattr(model, "predict", None)
    if predict is None:
        raise StageFailure(f"the {role} model ({name}) has no predict method")
    has_proba = hasattr(model, "predict_proba")
    if classify and has_proba and (proba_metrics or need_proba) and _argmax_predicts(model):
        one_pass = _one_pass(model, role, features)
        if one_pass is not None:  # what its predict computes, without a second pass
            return Predictions(role, *one_pass)
    labels = np.asarray(_call(predict, features, role, name, "predict"))
    if labels.ndim != 1 or len(labels) != len(features):
        raise StageFailure(
            f"the {role} model ({name}) returned predictions of shape {labels.shape} "
            f"for {len(features)} rows; mlci scores one target column"
        )
    if proba_metrics and not has_proba:
        raise StageFailure(
            f"metric {proba_metrics[0]!r} needs predicted probabilities, "
            f"but the {role} model ({name}) has no predict_proba",
            hint="use a label metric, or a model with predict_proba "
            "(e.g. SVC(probability=True), CalibratedClassifierCV)",
        )
    if classify and has_proba and (proba_metrics or need_proba):
        return Predictions(role, labels, *_proba(model, role, features))
    found = getattr(model, "classes_", None)
    return Predictions(role, labels, None, None if found is None else np.asarray(found))


def _proba(model: Any, role: str, features: pd.DataFrame) -> tuple[Array, Array]:
    """The model's probabilities and its classes_ (their columns' order), checked."""
    name = model.__class__.__name__
    method = getattr(model, "predict_proba")  # noqa: B009 (model is any object)
    proba = np.asarray(_call(method, features, role, name, "predict_proba"), dtype=float)
    found = getattr(model, "classes_", None)
    if found is None:
        raise StageFailure(f"the {role} model ({name}) has predict_proba but no classes_")
    classes = np.asarray(found)
    if proba.shape != (len(features), len(classes)):
        raise StageFailure(
            f"the {role} model ({name}) returned probabilities of shape {proba.shape}, "
            f"expected ({len(features)}, {len(classes)}) for its classes {classes.tolist()}"
        )
    return proba, classes


HGB = "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier"
_ARGMAX_PREDICT = frozenset(
    {
        HGB,
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
    }
)
"""Classifiers whose labels and probabilities one pass of the trees gives, in scikit-learn's
own code (one target column): a forest's predict is ``classes_[argmax(predict_proba)]``;
HistGradientBoosting's predict and predict_proba both start from ``_raw_predict`` (labels:
``raw > 0`` for two classes, else the raw argmax; probabilities: its loss's inverse link).
Half the evaluation's model time at scale. Exact classes only: a subclass may predict
otherwise."""
CHECKED_ROWS = 64
"""Rows on which the one-pass labels are compared with the model's own predict first: a
scikit-learn that computes them otherwise falls back to the two calls."""


def _one_pass(model: Any, role: str, features: pd.DataFrame) -> tuple[Array, Array, Array] | None:
    """Labels, probabilities and classes from one pass, or None where a check on the first
    :data:`CHECKED_ROWS` rows finds them unequal to ``predict``'s (or the private API gone)."""
    final, rows = model, features
    if _qualified(model) == "sklearn.pipeline.Pipeline":
        final = model.steps[-1][1]
    if _qualified(final) == HGB:
        try:
            if final is not model:
                rows = model[:-1].transform(features)
            raw = np.asarray(final._raw_predict(rows))
            proba = np.asarray(final._loss.predict_proba(raw), dtype=float)
        except Exception:  # internals gone, or bad rows: the two calls below say which
            return None
        encoded = (raw.ravel() > 0).astype(int) if raw.shape[1] == 1 else raw.argmax(axis=1)
        classes = np.asarray(final.classes_)
        labels = classes.take(encoded)
    else:
        proba, classes = _proba(model, role, features)
        labels = classes.take(proba.argmax(axis=1))
    head = np.asarray(model.predict(features.iloc[:CHECKED_ROWS]))
    if head.shape != labels[:CHECKED_ROWS].shape or not (head == labels[:CHECKED_ROWS]).all():
        return None
    return labels, proba, classes


def _argmax_predicts(model: object) -> bool:
    """The model, or a Pipeline's final step, is one of :data:`_ARGMAX_PREDICT`."""
    steps = getattr(model, "steps", None)
    if _qualified(model) == "sklearn.pipeline.Pipeline" and isinstance(steps, list) and steps:
        model = steps[-1][1]
    return _qualified(model) in _ARGMAX_PREDICT and getattr(model, "n_outputs_", 1) == 1


def _qualified(model: object) -> str:
    kind = type(model)
    return f"{kind.__module__}.{kind.__qualname__}"


def _call(method: Any, features: pd.DataFrame, role: str, name: str, what: str) -> Any:
    try:
        return method(features)
    except Exception as exc:  # the project's model failing on the test file
        raise StageFailure(
            f"the {role} model ({name}) failed in {what} on the test file: "
            f"{exc.__class__.__name__}: {exc}",
            hint="the model gets every column of the test file except the target; "
            "check that the test file has the columns the model was trained on",
        ) from None


def _shared_classes(candidate: Predictions, baseline: Predictions | None) -> Array | None:
    """The classes both sides are scored on: the union of the models' classes."""
    known = [
        side.classes
        for side in (candidate, baseline)
        if side is not None and side.classes is not None
    ]
    if not known:
        return None
    if len(known) == 1 or np.array_equal(known[0], known[1]):
        return known[0]
    return np.unique(np.concatenate(known))


def _aligned(side: Predictions, classes: Array | None) -> Array | None:
    """The side's probabilities with one column per shared class (0 for unknown classes)."""
    if side.proba is None or side.classes is None or classes is None:
        return side.proba
    if np.array_equal(side.classes, classes):
        return side.proba
    aligned = np.zeros((len(side.proba), len(classes)))
    for column, label in enumerate(side.classes.tolist()):
        aligned[:, classes.tolist().index(label)] = side.proba[:, column]
    return aligned


def _check_labels(truth: Array, side: Predictions, classes: Array | None) -> None:
    if classes is None:
        return
    unknown = sorted(set(pd.unique(truth).tolist()) - set(classes.tolist()), key=str)
    if unknown:
        raise StageFailure(
            f"the test file holds target values the {side.role} model never saw: "
            f"{', '.join(map(str, unknown[:10]))} (its classes: {', '.join(map(str, classes))})",
            hint="probability metrics need every test label among the model's classes",
        )


def _value(
    spec: MetricSpec,
    truth: Array,
    side: Predictions,
    proba: Array | None,
    classes: Array | None,
    positive: Label | None,
) -> float:
    try:
        value = metric_values(spec.name, truth, side.labels, proba, classes, positive)
    except (ValueError, TypeError) as exc:
        raise StageFailure(
            f"metric {spec.name} cannot be computed for the {side.role} model: {exc}",
            hint=_nan_hint(spec, truth, side),
        ) from None
    if not math.isfinite(value):
        word = "NaN" if math.isnan(value) else "infinite"
        raise StageFailure(
            f"metric {spec.name} is {word} for the {side.role} model",
            hint=_nan_hint(spec, truth, side),
        )
    return value


def _nan_hint(spec: MetricSpec, truth: Array, side: Predictions) -> str:
    if spec.task == "regression":
        predicted = pd.to_numeric(pd.Series(side.labels), errors="coerce")
        if not np.isfinite(predicted.to_numpy(dtype=float, na_value=np.nan)).all():
            return f"the {side.role} model predicts NaN or infinite values for some test rows"
        if pd.Series(truth).isna().any():
            return "the test file has missing target values; drop or fill them"
        return "the test file needs at least two rows"
    if pd.Series(truth).nunique() < 2:
        return f"the test file holds only one class; {spec.name} needs at least two"
    return "check the test file's target column and the model's predictions"


def _write_predictions(path: str | None, candidate: Predictions) -> str | None:
    """The candidate's own answers (its own classes_), as a serving container would give them."""
    if not path:
        return None
    frame = pd.DataFrame({"prediction": candidate.labels})
    if candidate.proba is not None and candidate.classes is not None:
        for column, label in enumerate(candidate.classes.tolist()):
            frame[f"proba_{label}"] = candidate.proba[:, column]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(target, index=False)
    return str(target)
