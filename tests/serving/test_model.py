"""Predicting on a numpy array where the model allows, with the same answers as on a frame."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mlci_action.serving.model import ServingConfig, load, takes_array
from mlci_action.worker.modelio import save_model


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(6)})
    frame["n"] = rng.integers(0, 20, size=rows)
    return frame


def _served(tmp_path: Path, model: object, columns: list[str] | None = None):
    save_model(model, tmp_path / "model.skops")
    config = ServingConfig(
        model_path=tmp_path / "model.skops",
        name="m",
        columns=None if columns is None else tuple(columns),
    )
    return load(config)


MODELS = {
    "hgb classifier": lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0),
    "hgb regressor": lambda: HistGradientBoostingRegressor(max_iter=30, random_state=0),
    "scaled logistic": lambda: Pipeline(
        [("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))]
    ),
}


@pytest.mark.parametrize("kind", MODELS, ids=list(MODELS))
@pytest.mark.parametrize("rows", [1, 257])
def test_numpy_and_frame_give_identical_predictions(tmp_path: Path, kind: str, rows: int) -> None:
    train = _frame(400, seed=1)
    target = (train["x0"] + 0.1 * train["n"] > 1).astype(int)
    model = MODELS[kind]().fit(train, target if "regressor" not in kind else train["x1"])
    served = _served(tmp_path, model)
    assert served.takes_array  # fitted on named numeric columns, only scikit-learn's own parts
    on_frame = dataclasses.replace(served, takes_array=False)
    batch = _frame(rows, seed=2)
    fast, slow = served.predict(batch), on_frame.predict(batch)
    np.testing.assert_array_equal(fast.labels, slow.labels)
    np.testing.assert_array_equal(fast.labels, model.predict(batch))
    if slow.proba is not None:
        assert fast.proba is not None
        np.testing.assert_array_equal(fast.proba, slow.proba)


def test_a_model_fitted_on_an_array_gets_an_array(tmp_path: Path) -> None:
    train = _frame(200, seed=3)
    model = LogisticRegression(max_iter=300).fit(train.to_numpy(), train["x0"] > 0)
    served = _served(tmp_path, model, columns=list(train.columns))
    assert served.takes_array
    batch = _frame(5, seed=4)
    np.testing.assert_array_equal(served.predict(batch).labels, model.predict(batch.to_numpy()))


def test_a_model_that_selects_columns_by_name_keeps_the_frame(tmp_path: Path) -> None:
    train = _frame(300, seed=5)
    # the columns are picked by name, in another order than the frame's
    picker = ColumnTransformer([("keep", "passthrough", ["n", "x2", "x0"])])
    model = Pipeline([("pick", picker), ("clf", LogisticRegression(max_iter=300))])
    model.fit(train, train["x0"] > 0)
    served = _served(tmp_path, model)
    assert not served.takes_array
    batch = _frame(9, seed=6)
    np.testing.assert_array_equal(served.predict(batch).labels, model.predict(batch))


def test_a_function_of_named_columns_keeps_the_frame(tmp_path: Path) -> None:
    train = _frame(100, seed=7)
    model = Pipeline(
        [
            ("f", FunctionTransformer(feature_names_out="one-to-one")),
            ("clf", LogisticRegression(max_iter=300)),
        ]
    ).fit(train, train["x0"] > 0)
    assert not _served(tmp_path, model).takes_array


def test_a_string_feature_keeps_the_frame(tmp_path: Path) -> None:
    train = _frame(100, seed=8)
    model = LogisticRegression(max_iter=300).fit(train, train["x0"] > 0)
    served = _served(tmp_path, model)
    features = (*served.features[:-1], dataclasses.replace(served.features[-1], datatype="BYTES"))
    assert takes_array(model, served.features) and not takes_array(model, features)
    assert json.dumps(served.metadata())  # the served model still describes itself
