"""A fitted HistGradientBoosting model's trees as flat arrays: small batches in microseconds.

scikit-learn predicts with one compiled call per tree; for one row each call costs tens of
microseconds of Python and memoryview set-up, so a 100-tree model spends milliseconds on a
prediction that is a hundred comparisons. :class:`TreeEnsemble` lays every tree's nodes side
by side once, at load, and walks all trees for all rows together, one level at a time, with
numpy: the same comparisons (``value <= threshold``, NaN to the side the tree learned), the
same leaf values, summed in the same order as scikit-learn (a cumulative sum from the
baseline, iteration by iteration), so the raw scores are bit for bit scikit-learn's and
the labels and probabilities come from the model's own link functions. For large batches
scikit-learn's compiled loop is faster: :data:`SMALL_BATCH` rows is where the walk stops
paying (measured in benchmarks/README.md), and past it the raw scores are scikit-learn's own
(``_raw_predict``). Either way a request for labels and probabilities computes the raw scores
once, where ``predict`` and ``predict_proba`` would each compute them: the labels are derived
as ``predict`` derives them, the probabilities as ``predict_proba`` does, so both are
scikit-learn's bit for bit at half the cost.

Only plain ``HistGradientBoostingClassifier`` / ``HistGradientBoostingRegressor`` models
without categorical features are compiled; anything else predicts through scikit-learn.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlci_action.serving.protocol import Array

SMALL_BATCH = 32
"""Up to this many rows the walk is faster than scikit-learn's per-tree calls."""


@dataclass(frozen=True)
class TreeEnsemble:
    model: Any
    feature: Array
    threshold: Array
    children: Array
    """Node i's left child at 2i, its right child at 2i + 1 (indices into the flat node
    arrays); a leaf is its own child on both sides."""
    leaf: Array
    missing_left: Array
    value: Array
    roots: Array
    """The root of each tree, iteration-major: (iterations, trees per iteration)."""
    depth: int
    baseline: Array
    """The model's baseline raw score, (1, trees per iteration)."""
    classifier: bool
    width: int
    """The number of features the model was fitted on."""

    def takes(self, X: Array) -> bool:
        """Whether these rows are for :meth:`predict` (a 2-D array as wide as in training)."""
        return X.ndim == 2 and X.shape[1] == self.width

    def walks(self, X: Array) -> bool:
        """Whether to walk these rows with numpy (few enough) rather than call scikit-learn."""
        return self.takes(X) and len(X) <= SMALL_BATCH

    def raw(self, X: Array) -> Array:
        """(rows, trees per iteration) raw scores, equal to ``model._raw_predict(X)``."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        flat, width = X.ravel(), X.shape[1]
        base = (np.arange(len(X)) * width)[:, None]
        node = np.broadcast_to(self.roots.reshape(1, -1), (len(X), self.roots.size))
        missing = bool(np.isnan(flat).any())
        for _ in range(self.depth):
            if self.leaf[node].all():
                break
            x = flat[base + self.feature[node]]
            go_right = x > self.threshold[node]
            if missing:  # NaN goes where the tree learned; "x > t" alone would send it left
                go_right = np.where(np.isnan(x), ~self.missing_left[node], go_right)
            node = self.children[2 * node + go_right]
        per_tree = self.value[node].reshape(len(X), *self.roots.shape)
        start = np.broadcast_to(self.baseline[:, None, :], (len(X), 1, self.roots.shape[1]))
        # scikit-learn adds the trees to the baseline one iteration at a time: a cumulative
        # sum adds in the same order (np.sum would pair them, rounding differently)
        return np.cumsum(np.concatenate([start, per_tree], axis=1), axis=1)[:, -1, :]

    def scored(self, X: Array) -> Array:
        """scikit-learn's raw scores, as ``_raw_predict`` computes them (its compiled loop over
        the trees, from the baseline), without its input checks for a float64 array: the
        server's rows were checked (serving.numeric), and on 1,000 rows the checks cost about
        a tenth of the prediction. Anything else goes through ``_raw_predict``."""
        model = self.model
        if X.dtype != np.float64:
            return np.asarray(model._raw_predict(X))
        raw = np.zeros((len(X), self.roots.shape[1]), dtype=self.baseline.dtype, order="F")
        raw += model._baseline_prediction
        model._predict_iterations(X, model._predictors, raw, False, _openmp_threads())
        return raw

    def agrees(self, X: Array) -> bool:
        """Whether the walk and :meth:`scored` give scikit-learn's raw scores, bit for bit,
        on these rows."""
        with warnings.catch_warnings():  # a model fitted on a frame warns about the names
            warnings.simplefilter("ignore", UserWarning)
            expected = np.asarray(self.model._raw_predict(X)).reshape(len(X), -1)
        return all(
            np.array_equal(got, expected, equal_nan=True)
            for got in (self.raw(X), self.scored(X), self.scored(np.asfortranarray(X)))
        )

    def predict(self, X: Array, *, proba: bool) -> tuple[Array, Array | None]:
        """Labels and, for a classifier asked for them, probabilities, as the model gives them,
        from one computation of the raw scores (walked for small batches, scikit-learn's else)."""
        raw = self.raw(X) if self.walks(X) else self.scored(X)
        if not self.classifier:
            return np.asarray(self.model._loss.link.inverse(raw.ravel())), None
        # as scikit-learn's predict decides: "> 0" for two classes (a tie is the first), argmax
        # for more; and predict_proba is the loss's predict_proba of the same raw scores
        encoded = (raw.ravel() > 0).astype(int) if raw.shape[1] == 1 else np.argmax(raw, axis=1)
        labels = self.model.classes_[encoded]
        probabilities = self.model._loss.predict_proba(raw) if proba else None
        return labels, probabilities


def _openmp_threads() -> int:
    """The OpenMP threads scikit-learn would use on this thread (MLCI_SERVE_THREADS)."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    return int(_openmp_effective_n_threads())


def compile_trees(model: Any) -> TreeEnsemble | None:
    """The model's trees, or None when it is not a model this module walks.

    The walk reads scikit-learn's private tree layout, and :meth:`TreeEnsemble.scored` its
    private prediction loop, which a scikit-learn release may change: a layout or method it
    does not find, or a probe whose answers differ from scikit-learn's by a single bit, leaves
    the model to scikit-learn.
    """
    try:
        trees = _compile(model)
        if trees is None or not trees.agrees(_probe(model)):
            return None
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None
    return trees


def _probe(model: Any) -> Array:
    """Rows around every threshold the model learned, and rows with NaN, for the self-check."""
    rng = np.random.default_rng(0)
    width = int(model.n_features_in_)
    thresholds = [
        predictor.nodes["num_threshold"][~predictor.nodes["is_leaf"].astype(bool)]
        for iteration in model._predictors
        for predictor in iteration
    ]
    pool = np.concatenate([*thresholds, np.zeros(1)])
    rows = rng.choice(pool, size=(SMALL_BATCH, width)) + rng.normal(0, 1e-9, (SMALL_BATCH, width))
    rows[rng.random((SMALL_BATCH, width)) < 0.1] = np.nan
    return rows


def _compile(model: Any) -> TreeEnsemble | None:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    kind = type(model)
    if kind not in (HistGradientBoostingClassifier, HistGradientBoostingRegressor):
        return None
    predictors = getattr(model, "_predictors", None)
    if (
        not predictors
        or getattr(model, "is_categorical_", None) is not None
        or getattr(model, "_preprocessor", None) is not None
    ):
        return None
    nodes = [predictor.nodes for iteration in predictors for predictor in iteration]
    if any(bool(tree["is_categorical"].any()) for tree in nodes):
        return None
    offsets = np.cumsum([0] + [len(tree) for tree in nodes[:-1]])
    flat = np.concatenate(nodes)
    own = np.arange(len(flat))
    leaf = flat["is_leaf"].astype(bool)
    shift = np.repeat(offsets, [len(tree) for tree in nodes])
    left = np.where(leaf, own, flat["left"].astype(np.int64) + shift)
    right = np.where(leaf, own, flat["right"].astype(np.int64) + shift)
    return TreeEnsemble(
        model=model,
        feature=np.where(leaf, 0, flat["feature_idx"]).astype(np.intp),
        threshold=flat["num_threshold"].astype(np.float64),
        children=np.stack([left, right], axis=1).ravel(),
        leaf=leaf,
        missing_left=flat["missing_go_to_left"].astype(bool),
        value=flat["value"].astype(np.float64),
        roots=offsets.reshape(len(predictors), len(predictors[0])),
        depth=int(flat["depth"].max()),
        # as scikit-learn starts: zeros plus the baseline (so a -0.0 baseline is +0.0)
        baseline=np.zeros((1, len(predictors[0])))
        + np.asarray(model._baseline_prediction).reshape(1, -1),
        classifier=kind is HistGradientBoostingClassifier,
        width=int(model.n_features_in_),
    )
