"""Model tests: mlci runs them with pytest on the trained candidate.

The fixtures (model, baseline_model, X_test, y_test, ...) come from mlci's pytest plugin.
"""

import numpy as np
from sklearn.metrics import accuracy_score

SIZE = [
    "mean_radius",
    "mean_perimeter",
    "mean_area",
    "worst_radius",
    "worst_perimeter",
    "worst_area",
]


def test_one_known_label_per_row(model, X_test):
    predictions = model.predict(X_test)
    assert predictions.shape == (len(X_test),)
    assert set(predictions) <= {0, 1}


def test_accuracy_on_the_test_set(model, X_test, y_test):
    assert accuracy_score(y_test, model.predict(X_test)) >= 0.9


def test_small_noise_flips_few_predictions(model, X_test):
    rng = np.random.default_rng(0)
    noisy = X_test + rng.normal(0, 0.01, X_test.shape) * X_test.std().to_numpy()
    flipped = (model.predict(noisy) != model.predict(X_test)).mean()
    assert flipped <= 0.05, f"1% noise flipped {flipped:.1%} of the predictions"


def test_larger_tumours_do_not_look_more_benign(model, X_test):
    larger = X_test.copy()
    larger[SIZE] *= 1.2
    before = model.predict_proba(X_test)[:, 1]  # probability of malignant (class 1)
    after = model.predict_proba(larger)[:, 1]
    assert (after >= before - 0.01).all()


def test_not_worse_than_the_baseline(model, baseline_model, X_test, y_test):
    candidate = accuracy_score(y_test, model.predict(X_test))
    baseline = accuracy_score(y_test, baseline_model.predict(X_test))
    assert candidate >= baseline - 0.02, f"accuracy {candidate:.3f} vs baseline {baseline:.3f}"
