"""``training.preprocess: auto``: the estimator in a Pipeline that takes the raw columns.

Text, boolean and category columns are one-hot encoded (a category unseen in training encodes
as all zeros); numeric columns are median-imputed, with an indicator column for each one that
had missing values in training. A train file that needs neither gets the bare estimator.
The saved model is the whole Pipeline, so serving predicts on the raw columns too.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

MAX_CATEGORIES = 50
"""One-hot columns per feature: rarer values share one "infrequent" column (IDs, free text)."""
MISSING = "(missing)"


def needs_preprocessing(features: pd.DataFrame) -> bool:
    return bool(_categorical(features)) or bool(features.isna().to_numpy().any())


def with_preprocessing(estimator: Any, features: pd.DataFrame) -> Any:
    """``Pipeline([ColumnTransformer(...), estimator])`` for ``features``' columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = _categorical(features)
    numeric = [column for column in features.columns if column not in categorical]
    transformers: list[tuple[str, Any, list[str]]] = []
    if categorical:
        # missing as a category of its own; the imputer also turns a batch whose text column
        # is all missing (read as float NaN) into text the encoder can compare
        encoder = Pipeline(
            [
                ("missing", SimpleImputer(strategy="constant", fill_value=MISSING)),
                (
                    "onehot",
                    OneHotEncoder(
                        handle_unknown="ignore",
                        max_categories=MAX_CATEGORIES,
                        sparse_output=False,
                    ),
                ),
            ]
        )
        transformers.append(("categorical", encoder, categorical))
    if numeric:
        imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        transformers.append(("numeric", imputer, numeric))
    columns = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("columns", columns), ("model", estimator)])


def _categorical(features: pd.DataFrame) -> list[str]:
    return [
        str(column)
        for column in features.columns
        if not pd.api.types.is_numeric_dtype(features[column])
        or pd.api.types.is_bool_dtype(features[column])
    ]
