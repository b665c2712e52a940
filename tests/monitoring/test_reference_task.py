"""The worker task that builds reference.json at package time, on real files and a real model."""

from __future__ import annotations

from pathlib import Path

from skops.io import dump

from mlci_action.executors.tasks import ReferenceProfile
from mlci_action.monitoring.profile import Profile
from mlci_action.worker.__main__ import run_task
from tests.monitoring.world import fit, frame


def test_the_task_profiles_the_training_file_and_scores_the_model_with_intervals(
    tmp_path: Path,
) -> None:
    train, test = frame(600, seed=1), frame(300, seed=2)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    model = fit(train)
    dump(model, tmp_path / "model.skops")
    request = ReferenceProfile(
        train_path=str(tmp_path / "train.csv"),
        test_path=str(tmp_path / "test.csv"),
        target="y",
        task="classification",
        model=str(tmp_path / "model.skops"),
        metrics=["accuracy", "roc_auc"],
        bootstrap={"resamples": 50},
        profile_path=str(tmp_path / "reference.json"),
    )
    outcome = run_task(request.kind, request.model_dump(mode="json"))
    assert outcome["ok"], outcome
    profile = Profile.from_json((tmp_path / "reference.json").read_bytes())
    assert profile.rows == 600 and set(profile.features) == {"x1", "x2", "color"}
    accuracy = profile.metrics["accuracy"]
    truth = float((model.predict(test.drop(columns="y")) == test["y"]).mean())
    assert accuracy.value == truth
    assert accuracy.low is not None and accuracy.high is not None
    assert accuracy.low < truth < accuracy.high
    assert profile.positive_class == 1 and profile.probabilities is not None
    assert profile.prediction.rows == 300
