"""Model tests: mlci runs them with pytest on the fitted candidate.

The fixtures (model, baseline_model, X_test, y_test, ...) come from mlci's pytest plugin.
"""

import numpy as np
from sklearn.metrics import mean_squared_error, r2_score


def rmse(y_true, y_pred):
    return mean_squared_error(y_true, y_pred) ** 0.5


def test_one_finite_prediction_per_row(model, X_test):
    predictions = model.predict(X_test)
    assert predictions.shape == (len(X_test),)
    assert np.isfinite(predictions).all()


def test_r2_on_the_test_set(model, X_test, y_test):
    assert r2_score(y_test, model.predict(X_test)) >= 0.3


def test_small_noise_moves_predictions_little(model, X_test, y_test):
    rng = np.random.default_rng(0)
    noisy = X_test + rng.normal(0, 0.01, X_test.shape) * X_test.std().to_numpy()
    moved = np.abs(model.predict(noisy) - model.predict(X_test)).mean()
    assert moved <= 0.05 * y_test.std(), f"1% noise moved predictions by {moved:.1f} on average"


def test_higher_bmi_does_not_lower_the_prediction(model, X_test):
    heavier = X_test.assign(bmi=X_test["bmi"] + 5)
    assert (model.predict(heavier) >= model.predict(X_test)).all()


def test_not_worse_than_the_baseline(model, baseline_model, X_test, y_test):
    candidate = rmse(y_test, model.predict(X_test))
    baseline = rmse(y_test, baseline_model.predict(X_test))
    assert candidate <= baseline * 1.05, f"rmse {candidate:.1f} vs baseline {baseline:.1f}"
