"""training.preprocess: auto: the fitted Pipeline takes raw columns, saves and loads under the
trust policy, and predicts on rows with unseen categories and missing values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlci_action.errors import StageFailure
from mlci_action.executors.tasks import TrainEstimator
from mlci_action.worker import train_estimator
from mlci_action.worker.modelio import load_model, untrusted_types
from tests.datasets import Dataset, houses, penguins, shoppers


def train(dataset: Dataset, estimator: str, preprocess: str = "auto") -> Path:
    request = TrainEstimator(
        train_path=str(dataset.train_path),
        target=dataset.target,
        estimator=estimator,
        preprocess=preprocess,  # type: ignore[arg-type]
        model_path=str(dataset.project / "model.skops"),
    )
    return Path(train_estimator.run(request.model_dump(mode="json"))["model_path"])


def odd_rows(dataset: Dataset) -> pd.DataFrame:
    """Test rows with a category never seen in training and a missing value in every column."""
    rows = pd.read_csv(dataset.test_path).drop(columns=dataset.target).head(4)
    rows = rows.astype({c: object for c in rows.columns if rows[c].dtype == bool})
    text = [c for c in rows.columns if not pd.api.types.is_numeric_dtype(rows[c])]
    rows.loc[rows.index[0], text[0]] = "never seen in training"
    for column in rows.columns:
        rows.loc[rows.index[1], column] = np.nan
    return rows


@pytest.mark.parametrize(
    ("make", "estimator"),
    [
        (penguins, "sklearn.ensemble.HistGradientBoostingClassifier"),
        (shoppers, "sklearn.linear_model.LogisticRegression"),  # no NaN support of its own
        (houses, "sklearn.linear_model.Ridge"),
    ],
)
def test_the_pipeline_loads_and_predicts_on_raw_rows(tmp_path, make, estimator):
    dataset = make(tmp_path / make.__name__)
    path = train(dataset, estimator)
    found, refused = untrusted_types(path)
    assert refused == [], found  # nothing for evaluation.trusted_types to list
    model = load_model(path)
    assert type(model).__name__ == "Pipeline" and estimator.endswith(
        type(model.steps[-1][1]).__name__
    )
    test = pd.read_csv(dataset.test_path)
    predicted = model.predict(test.drop(columns=dataset.target))
    assert len(predicted) == len(test)
    rows = odd_rows(dataset)
    assert len(model.predict(rows)) == len(rows)
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(rows)
        assert np.allclose(proba.sum(axis=1), 1.0) and not np.isnan(proba).any()


def test_a_text_column_all_missing_in_a_batch_still_predicts(tmp_path):
    dataset = penguins(tmp_path / "p")
    model = load_model(train(dataset, "sklearn.linear_model.LogisticRegression"))
    rows = pd.read_csv(dataset.test_path).drop(columns="species").head(3)
    rows["sex"] = np.nan  # read back as float64: no text left in the column
    assert rows["sex"].dtype == "float64" and len(model.predict(rows)) == 3


def test_serving_takes_the_raw_columns_init_declared(tmp_path, capsys):
    from mlci_action.cli import main
    from mlci_action.serving.features import frame_from_records, validate
    from mlci_action.serving.model import ServingConfig, load

    dataset = penguins(tmp_path / "p")
    assert main(dataset.init_args()) == 0, capsys.readouterr().err
    path = train(dataset, "sklearn.ensemble.HistGradientBoostingClassifier")
    served = load(
        ServingConfig(
            model_path=path,
            name="penguins",
            schema={"kind": "yaml", "path": "schema.yaml"},
            project_dir=dataset.project,
            target=dataset.target,
        )
    )
    assert {f.name: f.datatype for f in served.features}["island"] == "BYTES"
    test = pd.read_csv(dataset.test_path).drop(columns=dataset.target).head(3)
    records = test.astype(object).where(test.notna(), None).to_dict("records")
    records[0]["sex"] = records[1]["bill_length_mm"] = None
    frame = validate(frame_from_records(records, served.features), served.schema)
    prediction = served.predict(frame)
    assert len(prediction.labels) == 3 and prediction.proba is not None
    assert set(prediction.labels) <= {"Adelie", "Chinstrap", "Gentoo"}


def test_numeric_data_without_gaps_gets_the_bare_estimator(tmp_path):
    dataset = houses(tmp_path / "h")
    frame = pd.read_csv(dataset.train_path).select_dtypes("number")
    frame.to_csv(dataset.train_path, index=False)
    model = load_model(train(dataset, "sklearn.linear_model.Ridge"))
    assert type(model).__name__ == "Ridge"


def test_preprocess_none_fails_on_text_with_a_hint(tmp_path):
    dataset = penguins(tmp_path / "p")
    with pytest.raises(StageFailure) as raised:
        train(dataset, "sklearn.linear_model.LogisticRegression", preprocess="none")
    assert "training.preprocess: auto" in (raised.value.hint or "")
