"""Walking a HistGradientBoosting model's trees with numpy gives scikit-learn's raw scores,
labels and probabilities bit for bit, missing values included; other models are not walked."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)

from mlci_action.serving.trees import SMALL_BATCH, compile_trees


def _data(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(rows, 8))
    data[rng.random(data.shape) < 0.08] = np.nan  # missing values go where each tree learned
    return data


TRAIN = _data(600, seed=0)
SIGNAL = np.nan_to_num(TRAIN[:, 0]) + np.nan_to_num(TRAIN[:, 1]) * np.nan_to_num(TRAIN[:, 2])
MODELS = {
    "binary": lambda: HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(
        TRAIN, SIGNAL > 0
    ),
    "three classes": lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(
        TRAIN, np.digitize(SIGNAL, [-0.5, 0.5])
    ),
    "string labels": lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(
        TRAIN, np.where(SIGNAL > 0, "yes", "no")
    ),
    "regressor": lambda: HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(
        TRAIN, SIGNAL
    ),
    "poisson regressor": lambda: HistGradientBoostingRegressor(
        loss="poisson", max_iter=20, random_state=0
    ).fit(TRAIN, np.abs(SIGNAL)),
}


@pytest.mark.parametrize("kind", MODELS, ids=list(MODELS))
def test_the_walk_equals_scikit_learn_bit_for_bit(kind: str) -> None:
    model = MODELS[kind]()
    trees = compile_trees(model)
    assert trees is not None
    rng = np.random.default_rng(1)
    for seed in range(12):
        rows = _data(int(rng.integers(1, SMALL_BATCH + 1)), seed=100 + seed)
        assert trees.takes(rows)
        np.testing.assert_array_equal(trees.raw(rows), model._raw_predict(rows))
        labels, proba = trees.predict(rows, proba=True)
        np.testing.assert_array_equal(labels, model.predict(rows))
        assert labels.dtype == model.predict(rows).dtype
        if hasattr(model, "predict_proba"):
            np.testing.assert_array_equal(proba, model.predict_proba(rows))
        else:
            assert proba is None


def test_large_batches_are_scored_by_scikit_learn_and_other_widths_are_refused() -> None:
    trees = compile_trees(MODELS["binary"]())
    assert trees is not None
    assert trees.takes(_data(SMALL_BATCH + 1, seed=3))
    assert not trees.walks(_data(SMALL_BATCH + 1, seed=3))
    assert not trees.takes(np.zeros((1, 7))) and not trees.walks(np.zeros((1, 7)))


@pytest.mark.parametrize("kind", MODELS, ids=list(MODELS))
def test_large_batches_give_labels_and_probabilities_from_one_scoring(kind: str) -> None:
    """Past the walk, labels and probabilities come from one call of scikit-learn's raw
    scores, and equal its predict and predict_proba bit for bit (dtype included)."""
    model = MODELS[kind]()
    trees = compile_trees(model)
    assert trees is not None
    for rows in (SMALL_BATCH + 1, 300):
        batch = _data(rows, seed=rows)
        calls = []
        original = model._predict_iterations
        model._predict_iterations = lambda *args, calls=calls, original=original: (
            calls.append(1) or original(*args)
        )
        try:
            labels, proba = trees.predict(batch, proba=True)
        finally:
            del model._predict_iterations
        assert len(calls) == 1
        np.testing.assert_array_equal(trees.scored(batch), model._raw_predict(batch))
        expected = model.predict(batch)
        np.testing.assert_array_equal(labels, expected)
        assert labels.dtype == expected.dtype
        if hasattr(model, "predict_proba"):
            np.testing.assert_array_equal(proba, model.predict_proba(batch))
        else:
            assert proba is None


def test_models_it_does_not_walk() -> None:
    categorical = HistGradientBoostingClassifier(
        max_iter=5, categorical_features=[0], random_state=0
    ).fit(np.column_stack([np.arange(600) % 4, TRAIN[:, 1:]]), SIGNAL > 0)
    assert compile_trees(categorical) is None
    classic = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(
        np.nan_to_num(TRAIN), SIGNAL > 0
    )
    assert compile_trees(classic) is None


def test_a_tree_layout_it_does_not_know_is_left_to_scikit_learn() -> None:
    """A scikit-learn release may change its private tree layout: a field the walk cannot
    find, or answers that differ from scikit-learn's on the load-time probe, mean no walk."""
    model = MODELS["binary"]()
    assert compile_trees(model) is not None
    predictor = model._predictors[0][0]
    nodes = predictor.nodes
    fields = [
        ("threshold" if name == "num_threshold" else name, nodes.dtype.fields[name][0])
        for name in nodes.dtype.names
    ]
    predictor.nodes = np.array(nodes.tolist(), dtype=fields)  # a renamed field
    assert compile_trees(model) is None
    shifted = nodes.copy()
    shifted["value"][shifted["is_leaf"].astype(bool)] += 1.0  # the walk's copy would disagree
    predictor.nodes = nodes
    walked = compile_trees(model)
    assert walked is not None
    predictor.nodes = shifted  # what scikit-learn now predicts differs from the compiled walk
    assert not walked.agrees(np.zeros((2, TRAIN.shape[1])))
    predictor.nodes = nodes
    model._predict_iterations = None  # a release without the loop the large batches call
    assert compile_trees(model) is None
