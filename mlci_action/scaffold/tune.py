"""Limits for the data checks (``data.checks``) under which the files init saw pass.

Each check is computed here as the data-tests worker defines it; a default the data already
breaks is loosened to what was observed (rounded up), with a comment saying why, so that
`mlci validate` passes straight after init and fails on anything worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlci_action.config import DataChecks
from mlci_action.scaffold.infer import MAX_LEVELS, Data
from mlci_action.scaffold.numbers import round_out


@dataclass(frozen=True)
class CheckSetting:
    """One entry of ``data.checks``: its values and, if it departs from the default, why."""

    name: str
    values: dict[str, Any]
    reasons: tuple[str, ...] = ()


def tune_checks(data: Data) -> tuple[CheckSetting, ...]:
    defaults = DataChecks()
    return (
        _columns(data),
        _duplicates(data, defaults.duplicates.max_share),
        _categories(data),
        _constant(data),
        _leakage(data),
        _target(data, defaults.target.max_shift, defaults.target.max_baseline_shift),
        CheckSetting(
            "drift",
            {"ks_threshold": 0.2, "psi_threshold": 0.2, "fail_on_drift": False},
            ("against the baseline's training data: a warning unless fail_on_drift",),
        ),
    )


def _columns(data: Data) -> CheckSetting:
    only_train = [c for c in data.train.columns if c not in data.test.columns]
    only_test = [c for c in data.test.columns if c not in data.train.columns]
    if not only_train and not only_test:
        return CheckSetting("columns", {"strict": True})
    parts = [f"only in train: {', '.join(map(str, only_train))}" if only_train else ""]
    parts.append(f"only in test: {', '.join(map(str, only_test))}" if only_test else "")
    return CheckSetting(
        "columns",
        {"strict": False},
        (
            f"a warning, not a failure: the files init saw differ ({'; '.join(p for p in parts if p)})",
            "make them match and set strict: true",
        ),
    )


def _duplicates(data: Data, default: float) -> CheckSetting:
    shares = {
        name: float(frame.duplicated(keep="first").mean())
        for name, frame in (("train", data.train), ("test", data.test))
    }
    worst = max(shares, key=lambda name: shares[name])
    if shares[worst] <= default:
        return CheckSetting("duplicates", {"max_share": default})
    count = int(data.train.duplicated().sum() + data.test.duplicated().sum())
    return CheckSetting(
        "duplicates",
        {"max_share": round_out(shares[worst], up=True)},
        (
            f"{count} rows repeat an earlier row of their file in the data init saw "
            f"({shares[worst]:.2%} of {worst}, the most); genuine repeats (same measurements) "
            "are allowed up to this share",
        ),
    )


def _categories(data: Data) -> CheckSetting:
    rows, columns = 0, []
    for column in data.train.columns:
        if column not in data.test.columns or not data.is_categorical(column, MAX_LEVELS):
            continue
        train, test = _comparable(data.train[column], data.test[column])
        count = int((train.notna() & ~train.isin(test.dropna().unique())).sum())
        if column != data.target:  # test-only classes: the unseen_classes check's failure
            count += int((test.notna() & ~test.isin(train.dropna().unique())).sum())
        if count:
            rows += count
            columns.append(str(column))
    values: dict[str, Any] = {"max_rows": rows, "max_levels": MAX_LEVELS}
    if not rows:
        return CheckSetting("categories", values)
    return CheckSetting(
        "categories",
        values,
        (
            f"{rows} rows hold a category that only one file has ({', '.join(columns)}) in the "
            "data init saw; check them for typos, then lower this",
        ),
    )


def _constant(data: Data) -> CheckSetting:
    train = data.train
    constant = [
        str(column)
        for column in train.columns
        if column != data.target and len(train) > 1 and train[column].nunique(dropna=False) == 1
    ]
    if not constant:
        return CheckSetting("constant", {"enabled": True})
    return CheckSetting(
        "constant",
        {"enabled": False},
        (
            f"off: {', '.join(constant)} has one value in every training row of the data init "
            "saw; drop such columns and turn this on",
        ),
    )


def _leakage(data: Data) -> CheckSetting:
    shared = [c for c in data.train.columns if c in data.test.columns]
    train, test = data.train[shared], data.test[shared]
    for column in shared:
        a, b = _comparable(train[column], test[column])
        train, test = train.assign(**{column: a}), test.assign(**{column: b})
    hashes = pd.util.hash_pandas_object(train, index=False)
    count = int(pd.util.hash_pandas_object(test, index=False).isin(hashes).sum())
    if not count:
        return CheckSetting("leakage", {"max_rows": 0})
    return CheckSetting(
        "leakage",
        {"max_rows": count},
        (
            f"{count} genuine duplicate rows between train and test in the data init saw; "
            "more fail (a test row the model trained on inflates its scores)",
        ),
    )


def _target(data: Data, max_shift: float, max_baseline_shift: float) -> CheckSetting:
    y_train, y_test = data.train[data.target], data.test[data.target]
    values: dict[str, Any] = {}
    reasons = []
    missing = max(float(y_train.isna().mean()), float(y_test.isna().mean()))
    if missing > 0:
        values["max_missing"] = round_out(missing, up=True)
        reasons.append(f"max_missing: {missing:.2%} of a file's rows have no target in the data")
    shift = _shift(y_train.dropna(), y_test.dropna(), data.task == "classification")
    values["max_shift"] = max_shift
    if shift > max_shift:
        values["max_shift"] = min(1.0, round_out(shift, up=True))
        reasons.append(f"max_shift: the test file's target differs by {shift:.3f} from train's")
    values["max_baseline_shift"] = max_baseline_shift
    return CheckSetting("target", values, tuple(reasons))


def _shift(train: pd.Series, test: pd.Series, classes: bool) -> float:
    """Total variation distance of the class shares, or the two-sample KS statistic."""
    if train.empty or test.empty:
        return 0.0
    if classes:
        p, q = train.value_counts(normalize=True).align(
            test.value_counts(normalize=True), fill_value=0.0
        )
        return float(0.5 * np.abs(p - q).sum())
    from scipy.stats import ks_2samp

    return float(ks_2samp(train.to_numpy(float), test.to_numpy(float)).statistic)


def _comparable(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Equal values compare equal: text on both sides when the dtypes differ."""
    if a.dtype == b.dtype:
        return a, b
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        return a.astype("float64"), b.astype("float64")
    return a.astype(str).where(a.notna()), b.astype(str).where(b.notna())
