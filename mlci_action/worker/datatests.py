"""The worker task "data-tests": schema, leakage, target and drift checks on the data files.

Each check returns :class:`DataCheck` records; :func:`run` gathers them into a
:class:`DataReport`. Everything is vectorized: no per-row Python work, so a million rows
take seconds, not minutes.
"""

from __future__ import annotations

import filecmp
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlci_action.config import DataChecks, DriftCheck, LeakageCheck, TargetCheck
from mlci_action.errors import InputError
from mlci_action.record import CheckFailure, DataCheck, DataReport
from mlci_action.worker.frames import read_table, split_xy
from mlci_action.worker.schema_loader import load_schema

EXAMPLES = 5
DRIFT_SAMPLE = 100_000
DRIFT_SEED = 0
PSI_EPSILON = 1e-4
PSI_MAX_BINS = 50
"""Categories beyond the most frequent ones are pooled into one bin, so IDs don't explode PSI."""
_COLUMN_CHECKS = {"column_in_dataframe", "column_in_schema"}

Severity = Literal["error", "warning"]


def run(request: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    project = Path(request["project_dir"])
    target: str = request["target"]
    task: str = request["task"]
    settings = DataChecks.model_validate(request.get("checks") or {})
    spec: dict[str, Any] | None = request.get("schema_spec")
    schema = load_schema(spec, str(project)) if spec else None

    train_path = project / request["train_path"]
    test_path = project / request["test_path"]
    train = read_table(train_path, what="training data")
    test = read_table(test_path, what="test data")
    _, y_train = split_xy(train, target, train_path)
    _, y_test = split_xy(test, target, test_path)

    checks: list[DataCheck] = []
    if spec and schema is not None:
        label = str(project / spec["path"])
        checks.append(schema_check(schema, train, "train", label))
        checks.append(schema_check(schema, test, "test", label))
    if settings.leakage.enabled:
        checks.append(leakage_check(train, test, settings.leakage))
    if settings.target.enabled:
        checks.extend(target_checks(y_train, y_test, task, settings.target))
    baseline = request.get("baseline_train_path")
    if baseline and settings.drift.enabled:
        checks.extend(drift_checks(project / baseline, train_path, train, target, settings.drift))

    return DataReport(
        passed=all(check.passed for check in checks if check.severity == "error"),
        rows={"train": len(train), "test": len(test)},
        checks=checks,
        seconds=round(time.perf_counter() - started, 3),
    ).model_dump(mode="json")


# -- schema ---------------------------------------------------------------------------------


def schema_check(
    schema: pa.DataFrameSchema, frame: pd.DataFrame, dataset: str, schema_file: str
) -> DataCheck:
    """Lazy validation: every failing check of every column, grouped by (column, check)."""
    try:
        # A shallow copy validated in place: pandera skips its deep copy, and copy-on-write
        # keeps ``frame`` untouched even when the schema coerces or parses.
        schema.validate(frame.copy(deep=False), lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        failures, rows = _group_failure_cases(exc.failure_cases)
    except pa.errors.SchemaError as exc:
        cases = exc.failure_cases
        if isinstance(cases, pd.DataFrame) and "failure_case" in cases:
            cases = cases["failure_case"]
        values = pd.Series(cases) if cases is not None else pd.Series([], dtype=object)
        check = exc.check if isinstance(exc.check, str) else getattr(exc.check, "name", None)
        reason = getattr(exc.reason_code, "value", exc.reason_code)
        failures = [
            CheckFailure(
                check=str(check or reason or "schema"),
                column=None if exc.column_name is None else str(exc.column_name),
                count=max(len(values), 1),
                examples=_examples(values) or [str(exc).splitlines()[0]],
            )
        ]
        rows = 0
    except (pa.errors.SchemaDefinitionError, pa.errors.SchemaInitError) as exc:
        raise InputError(
            f"{schema_file}: the schema cannot be applied to the {dataset} data: {exc}",
            hint="check the column types and checks the schema declares",
        ) from None
    else:
        return DataCheck(
            name="schema", kind="schema", dataset=dataset, passed=True, detail="all checks passed"
        )
    detail = f"{_plural(len(failures), 'check')} failed"
    if rows:
        detail += f" on {_plural(rows, 'row')}"
    return DataCheck(
        name="schema",
        kind="schema",
        dataset=dataset,
        passed=False,
        detail=detail,
        failures=failures,
    )


def _group_failure_cases(cases: pd.DataFrame) -> tuple[list[CheckFailure], int]:
    """One CheckFailure per (column, check), and how many distinct rows failed.

    A dataframe-wide check fails whole rows: pandera lists every cell of every failing row,
    so those are counted once per row, with the row numbers as examples.
    """
    cases = cases.copy()
    cases["column"] = cases["column"].astype(object)
    if "index" not in cases:
        cases["index"] = None
    # a missing or unexpected column: its name is the failure case (pandera puts the
    # schema's name, or nothing, in "column")
    whole_column = cases["check"].isin(_COLUMN_CHECKS)
    cases.loc[whole_column, "column"] = cases.loc[whole_column, "failure_case"].astype(str)
    whole_row = (cases.get("schema_context") == "DataFrameSchema") & ~whole_column
    failures = []
    by_cell = cases[~whole_row].groupby(["column", "check"], dropna=False, sort=False)
    for (column, check), group in by_cell:
        failures.append(
            CheckFailure(
                check=str(check),
                column=None if column is None or pd.isna(column) else str(column),
                count=len(group),
                examples=_examples(group["failure_case"]),
            )
        )
    for check, group in cases[whole_row].groupby("check", sort=False):
        rows = group["index"].dropna().drop_duplicates()
        failures.append(
            CheckFailure(
                check=str(check),
                count=len(rows) or len(group),
                examples=[f"row {label}" for label in rows.head(EXAMPLES)],
            )
        )
    return failures, int(cases["index"].dropna().nunique())


def _examples(values: pd.Series) -> list[str]:
    try:
        distinct = values.drop_duplicates().head(EXAMPLES)
    except TypeError:  # unhashable failure cases
        distinct = values.astype(str).drop_duplicates().head(EXAMPLES)
    return [str(value) for value in distinct]


# -- leakage --------------------------------------------------------------------------------


def leakage_check(train: pd.DataFrame, test: pd.DataFrame, limits: LeakageCheck) -> DataCheck:
    """Test rows identical to a training row, in every column both files share."""
    left, right = _aligned(train, test)
    train_hashes = pd.util.hash_pandas_object(left, index=False)
    test_hashes = pd.util.hash_pandas_object(right, index=False)
    leaked = test_hashes.isin(train_hashes)
    count = int(leaked.sum())
    passed = count <= limits.max_rows
    detail = f"{_plural(count, 'test row')} also in the training data (at most {limits.max_rows} allowed)"
    failures = []
    if count:
        rows = right.index[leaked.to_numpy()][:EXAMPLES]
        failures.append(
            CheckFailure(
                check="duplicate_rows",
                count=count,
                examples=[f"test row {label}" for label in rows],
            )
        )
    return DataCheck(
        name="leakage",
        kind="leakage",
        dataset="train→test",
        passed=passed,
        detail=detail,
        statistic=float(count),
        threshold=float(limits.max_rows),
        failures=failures,
    )


def _aligned(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shared columns, in one order, with one dtype per column, so equal rows hash equal."""
    columns = [column for column in train.columns if column in test.columns]
    left, right = train[columns], test[columns]
    for column in columns:
        a, b = left[column], right[column]
        if a.dtype == b.dtype:
            continue
        if _is_numeric(a) and _is_numeric(b):
            left = left.assign(**{column: a.astype("float64")})
            right = right.assign(**{column: b.astype("float64")})
        else:
            left = left.assign(**{column: a.astype(str)})
            right = right.assign(**{column: b.astype(str)})
    return left, right


# -- target ---------------------------------------------------------------------------------


def target_checks(
    y_train: pd.Series, y_test: pd.Series, task: str, limits: TargetCheck
) -> list[DataCheck]:
    checks = [_missing(y, dataset, limits) for y, dataset in ((y_train, "train"), (y_test, "test"))]
    train, test = y_train.dropna(), y_test.dropna()
    if task == "regression":
        checks.append(_regression_shift(train, test, limits))
    else:
        checks.extend(_class_checks(train, test, limits))
    return checks


def _missing(y: pd.Series, dataset: str, limits: TargetCheck) -> DataCheck:
    count = int(y.isna().sum())
    share = count / len(y) if len(y) else 0.0
    return DataCheck(
        name="target_missing",
        kind="target",
        dataset=dataset,
        column=str(y.name),
        passed=share <= limits.max_missing,
        detail=f"{_plural(count, 'row')} without a target ({share:.1%})",
        statistic=share,
        threshold=limits.max_missing,
    )


def _regression_shift(train: pd.Series, test: pd.Series, limits: TargetCheck) -> DataCheck:
    column = str(train.name)
    for y, path in ((train, "training"), (test, "test")):
        if not _is_numeric(y):
            raise InputError(
                f"target column {column!r} in the {path} data is not numeric (dtype {y.dtype}), "
                "but evaluation.task is regression",
                hint="use task: classification for class labels, or fix the column",
            )
    if train.empty or test.empty:
        return DataCheck(
            name="target_shift",
            kind="target",
            dataset="train→test",
            column=column,
            passed=False,
            detail="no target values to compare",
            threshold=limits.max_shift,
        )
    statistic = _ks(train.to_numpy(float), test.to_numpy(float))
    return DataCheck(
        name="target_shift",
        kind="target",
        dataset="train→test",
        column=column,
        passed=statistic <= limits.max_shift,
        detail=f"KS statistic {statistic:.3f} (mean {train.mean():.4g} → {test.mean():.4g})",
        statistic=statistic,
        threshold=limits.max_shift,
    )


def _class_checks(train: pd.Series, test: pd.Series, limits: TargetCheck) -> list[DataCheck]:
    column = str(train.name)
    train_share = train.value_counts(normalize=True)
    test_counts = test.value_counts()
    unseen = test_counts[~test_counts.index.isin(train_share.index)]
    unseen_rows = int(unseen.sum())
    checks = [
        DataCheck(
            name="unseen_classes",
            kind="target",
            dataset="train→test",
            column=column,
            passed=unseen.empty,
            detail=(
                f"{_plural(len(unseen), 'class', 'classes')} of the test data not in the "
                f"training data ({_plural(unseen_rows, 'test row')})"
                if len(unseen)
                else f"every test class is in the training data ({len(train_share)} classes)"
            ),
            statistic=float(len(unseen)),
            threshold=0.0,
            failures=[
                CheckFailure(
                    check="unseen_class",
                    column=column,
                    count=unseen_rows,
                    examples=[str(label) for label in unseen.index[:EXAMPLES]],
                )
            ]
            if len(unseen)
            else [],
        )
    ]
    rare = train_share[train_share < limits.min_class_share]
    smallest = float(train_share.min()) if len(train_share) else 0.0
    checks.append(
        DataCheck(
            name="class_balance",
            kind="target",
            dataset="train",
            column=column,
            passed=rare.empty,
            detail=f"smallest class share {smallest:.1%} of {_plural(len(train_share), 'class', 'classes')}",
            statistic=smallest,
            threshold=limits.min_class_share,
            failures=[
                CheckFailure(
                    check="min_class_share",
                    column=column,
                    count=len(rare),
                    examples=[
                        f"{label}: {share:.2%}" for label, share in rare.head(EXAMPLES).items()
                    ],
                )
            ]
            if len(rare)
            else [],
        )
    )
    test_share = test.value_counts(normalize=True)
    p, q = train_share.align(test_share, fill_value=0.0)
    distance = float(0.5 * np.abs(p - q).sum())
    checks.append(
        DataCheck(
            name="target_shift",
            kind="target",
            dataset="train→test",
            column=column,
            passed=distance <= limits.max_shift,
            detail=f"total variation distance of the class shares {distance:.3f}",
            statistic=distance,
            threshold=limits.max_shift,
        )
    )
    return checks


# -- drift ----------------------------------------------------------------------------------


def drift_checks(
    baseline_path: Path,
    candidate_path: Path,
    candidate: pd.DataFrame,
    target: str,
    limits: DriftCheck,
) -> list[DataCheck]:
    """Baseline vs candidate training data, feature by feature (the target excluded)."""
    severity: Severity = "error" if limits.fail_on_drift else "warning"

    def note(
        passed: bool, detail: str, name: str = "feature_drift", level: Severity = severity
    ) -> DataCheck:
        return DataCheck(
            name=name,
            kind="drift",
            dataset="baseline→candidate",
            passed=passed,
            severity=level,
            detail=detail,
        )

    if baseline_path.is_file() and filecmp.cmp(baseline_path, candidate_path, shallow=False):
        return [note(True, "data unchanged")]
    try:
        baseline = read_table(baseline_path, what="baseline training data")
    except InputError as exc:
        # drift is advisory: a baseline without usable data is no reason to stop the run
        return [note(False, f"drift not checked: {exc.message}", level="warning")]

    before = [column for column in baseline.columns if column != target]
    after = [column for column in candidate.columns if column != target]
    known, kept = set(before), set(after)
    added = [column for column in after if column not in known]
    removed = [column for column in before if column not in kept]
    changes = [f"added: {', '.join(map(str, added))}"] if added else []
    changes += [f"removed: {', '.join(map(str, removed))}"] if removed else []
    checks = [
        note(
            not changes,
            "; ".join(changes) or f"same {_plural(len(after), 'feature column')}",
            name="feature_columns",
        )
    ]
    shared = [column for column in after if column in known]
    old = _sample(baseline[shared])
    new = _sample(candidate[shared])
    for column in shared:
        checks.append(_column_drift(old[column], new[column], limits, severity))
    return checks


def _sample(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= DRIFT_SAMPLE:
        return frame
    return frame.sample(n=DRIFT_SAMPLE, random_state=DRIFT_SEED)


def _column_drift(
    old: pd.Series, new: pd.Series, limits: DriftCheck, severity: Severity
) -> DataCheck:
    column = str(new.name)
    if _is_numeric(old) and _is_numeric(new):
        a, b = old.dropna().to_numpy(float), new.dropna().to_numpy(float)
        if not len(a) or not len(b):
            statistic = 0.0 if len(a) == len(b) else 1.0
            detail = "no values on one side"
        else:
            statistic = _ks(a, b)
            detail = f"KS statistic {statistic:.3f} (mean {a.mean():.4g} → {b.mean():.4g})"
        threshold = limits.ks_threshold
    else:
        statistic, detail = _psi(old, new)
        threshold = limits.psi_threshold
    return DataCheck(
        name="feature_drift",
        kind="drift",
        dataset="baseline→candidate",
        column=column,
        passed=statistic <= threshold,
        severity=severity,
        detail=detail,
        statistic=statistic,
        threshold=threshold,
    )


def _psi(old: pd.Series, new: pd.Series) -> tuple[float, str]:
    """Population stability index over the union of categories; missing values are one more."""
    p = old.astype(str).where(old.notna(), "(missing)").value_counts()
    q = new.astype(str).where(new.notna(), "(missing)").value_counts()
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
        f"PSI {psi:.3f} over {_plural(len(p), 'category', 'categories')}; largest change "
        f"{p.index[biggest]!s}: {p_share[biggest]:.1%} → {q_share[biggest]:.1%}"
    )
    return psi, detail


# -- helpers --------------------------------------------------------------------------------


def _is_numeric(values: pd.Series) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
    )


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic, as ``scipy.stats.ks_2samp`` computes it.

    Only the statistic is needed, and importing scipy.stats costs the worker a second or two.
    """
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, both, side="right") / len(a)
    cdf_b = np.searchsorted(b, both, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"
