"""The model being served: loaded once, its features and schema fixed at load time."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import sklearn

from mlci_action.errors import ConfigError
from mlci_action.serving import protocol
from mlci_action.serving.compiled import CompiledSchema, compile_schema
from mlci_action.serving.features import Feature, feature_schema, features_for
from mlci_action.serving.numeric import NumericPath, numeric_path
from mlci_action.serving.protocol import Array
from mlci_action.serving.trees import TreeEnsemble, compile_trees
from mlci_action.worker.modelio import load_model
from mlci_action.worker.schema_loader import load_schema


@dataclass(frozen=True)
class ServingConfig:
    """What ``python -m mlci_action.serving`` was told, checked at entry."""

    model_path: Path
    name: str
    schema: dict[str, Any] | None = None
    project_dir: Path = Path(".")
    trusted_types: tuple[str, ...] = ()
    target: str | None = None
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Prediction:
    labels: Array
    proba: Array | None
    classes: Array | None


@dataclass(frozen=True)
class ServedModel:
    name: str
    model: Any
    features: tuple[Feature, ...]
    schema: pa.DataFrameSchema | None
    """The training schema less the target and any column the model does not take."""
    classes: Array | None
    checks: CompiledSchema | None = None
    """``schema`` compiled into vectorized checks (serving.compiled), what requests pass."""
    takes_array: bool = False
    """Predict on a numpy array (half the time of a DataFrame for one row): see
    :func:`takes_array`."""
    numeric: NumericPath | None = None
    """The fast path from request to array, for all-numeric models (serving.numeric)."""
    trees: TreeEnsemble | None = None
    """The model's trees (serving.trees): walked with numpy for small batches; for any batch,
    labels and probabilities from one computation of the raw scores."""

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]

    @property
    def classifier(self) -> bool:
        return self.classes is not None and hasattr(self.model, "predict_proba")

    def predict(self, frame: pd.DataFrame, *, proba: bool = True) -> Prediction:
        """Labels, and probabilities for a classifier unless ``proba`` is False."""
        return self._predict(frame.to_numpy() if self.takes_array else frame, proba)

    def predict_matrix(self, matrix: Array, *, proba: bool = True) -> Prediction:
        """The same for the fast path's array, every value finite and checked: scikit-learn
        need not look for NaN or infinity again (``assume_finite``)."""
        # column-major, as a frame's float block is: BLAS then sums in the same order as for
        # the general path and the evaluation, so linear models agree to the last bit
        matrix = np.asfortranarray(matrix)
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return self._predict(matrix, proba)

    def _predict(self, data: Any, proba: bool) -> Prediction:
        if self.trees is not None and isinstance(data, np.ndarray) and self.trees.takes(data):
            labels, probabilities = self.trees.predict(data, proba=proba and self.classifier)
            return Prediction(labels, probabilities, self.classes)
        labels = np.asarray(self.model.predict(data))
        probabilities = None
        if proba and self.classifier:
            probabilities = np.asarray(self.model.predict_proba(data), dtype=np.float64)
        return Prediction(labels, probabilities, self.classes)

    def outputs(self, prediction: Prediction) -> dict[str, Array]:
        found = {"predict": prediction.labels}
        if prediction.proba is not None:
            found["predict_proba"] = prediction.proba
        return found

    def metadata(self) -> dict[str, Any]:
        outputs = [("predict", self._label_datatype(), [-1])]
        if self.classifier and self.classes is not None:
            outputs.append(("predict_proba", "FP64", [-1, len(self.classes)]))
        return protocol.model_metadata(
            self.name,
            [(feature.name, feature.datatype) for feature in self.features],
            outputs,
        )

    def _label_datatype(self) -> str:
        if self.classes is not None:
            return protocol.datatype_of(self.classes)
        return "FP64"


def load(config: ServingConfig) -> ServedModel:
    """Load the model (skops, mlci's trust policy) and the schema; settle the feature columns."""
    model = load_model(config.model_path, config.trusted_types)
    if not hasattr(model, "predict"):
        raise ConfigError(f"{config.model_path}: the model ({type(model).__name__}) has no predict")
    schema = None
    if config.schema is not None:
        schema = load_schema(config.schema, str(config.project_dir))
    names = _feature_names(model, schema, config)
    if schema is not None:
        unknown = [name for name in names if name not in schema.columns]
        if unknown:
            raise ConfigError(
                f"the model takes column(s) the schema does not declare: {', '.join(unknown)}",
                hint="serve with the schema the model was trained with",
            )
        schema = feature_schema(schema, names)
    found = getattr(model, "classes_", None)
    features = features_for(names, schema)
    array = takes_array(model, features)
    if array and hasattr(model, "feature_names_in_"):
        # the columns are passed in the fitted order; the warning is about the missing names
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
    checks = None if schema is None else compile_schema(schema)
    return ServedModel(
        name=config.name,
        model=model,
        features=features,
        schema=schema,
        classes=None if found is None else np.asarray(found),
        checks=checks,
        takes_array=array,
        numeric=numeric_path(features, checks, array),
        trees=compile_trees(model) if array else None,
    )


_BY_NAME = ("ColumnTransformer", "FunctionTransformer")
"""scikit-learn estimators that may pick or compute columns by name."""


def takes_array(model: object, features: Sequence[Feature]) -> bool:
    """Whether the model predicts the same on the features as a numpy array, in their order.

    A model fitted without feature names was fitted on an array: it gets one, as in training.
    One fitted on a DataFrame gets an array only when every feature is numeric and the model
    is built solely from scikit-learn's own estimators, none of which selects columns by name
    (a ColumnTransformer or FunctionTransformer anywhere keeps the DataFrame, and so does any
    estimator from another library, which may read the names)."""
    if not hasattr(model, "feature_names_in_"):
        return True
    if any(feature.datatype not in ("FP64", "INT64") for feature in features):
        return False
    return all(_positional(part) for part in _estimators(model))


def _estimators(model: object) -> list[object]:
    found = [model]
    params = getattr(model, "get_params", None)
    if params is not None:
        try:
            nested = params(deep=True).values()
        except Exception:  # an estimator whose get_params fails: not one to guess about
            return [model, None]
        found += [value for value in nested if hasattr(value, "fit")]
    return found


def _positional(estimator: object) -> bool:
    kind = type(estimator)
    return kind.__module__.startswith("sklearn.") and kind.__name__ not in _BY_NAME


def _feature_names(
    model: object, schema: pa.DataFrameSchema | None, config: ServingConfig
) -> list[str]:
    """The model's own ``feature_names_in_`` first, then --columns, then the schema less
    the target; the order is the order of the 2-D input's columns."""
    fitted: Sequence[str] | None = getattr(model, "feature_names_in_", None)
    if fitted is not None:
        names = [str(name) for name in fitted]
        if config.columns is not None and list(config.columns) != names:
            raise ConfigError(
                f"--columns {list(config.columns)} differ from the columns the model was "
                f"fitted on: {names}"
            )
        return names
    if config.columns is not None:
        return list(config.columns)
    if schema is not None and config.target is not None:
        return [str(name) for name in schema.columns if name != config.target]
    raise ConfigError(
        "cannot tell the model's feature columns: it has no feature_names_in_",
        hint='pass --columns \'["a", "b"]\', or --schema with --target',
    )
