"""Reading the inference log: malformed lines counted and named, the window, labels joined;
live accuracy with labels, and the confidence-based estimate without."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from mlci_action.config import Bootstrap, Monitoring
from mlci_action.errors import InputError
from mlci_action.monitoring.judge import judge
from mlci_action.monitoring.labels import join_labels, read_labels
from mlci_action.monitoring.live import read_log
from mlci_action.monitoring.performance import cbpe_accuracy
from tests.monitoring.world import frame, records, world, write_log


def test_malformed_lines_are_skipped_counted_and_named(tmp_path: Path) -> None:
    good = records(world().model, frame(5, seed=3))
    path = write_log(tmp_path, good)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
        handle.write(
            json.dumps({"id": "x", "time": "yesterday", "features": {}, "prediction": 1}) + "\n"
        )
        handle.write(json.dumps([1, 2]) + "\n")
        handle.write(json.dumps({"id": "y", "row": 0}) + "\n")
    (tmp_path / "inference-x.jsonl.tmp").write_text("{half a rec", encoding="utf-8")  # not closed
    live = read_log([str(tmp_path)], world().profile)
    assert live.counts.rows == 5 and live.counts.malformed == 4 and live.counts.lines == 9
    assert (
        live.counts.malformed_examples[0]
        == f"{path}:6: not JSON (Expecting property name enclosed in double quotes)"
    )
    assert live.counts.malformed_examples[1].startswith(f"{path}:7: time: ")
    assert live.counts.malformed_examples[3] == f"{path}:9: no time, features, prediction"


def test_the_window_keeps_recent_records_only(tmp_path: Path) -> None:
    model = world().model
    now = datetime.now(UTC)
    old = records(model, frame(20, seed=4), prefix="old", start=now - timedelta(hours=30))
    new = records(model, frame(30, seed=5), prefix="new", start=now)
    write_log(tmp_path, old + new)
    stale = write_log(tmp_path, old, name="inference-old.jsonl")
    long_ago = (now - timedelta(days=3)).timestamp()
    os.utime(stale, (long_ago, long_ago))  # closed before the window: not even opened
    live = read_log([str(tmp_path)], world().profile, since=timedelta(hours=24), now=now, keep=True)
    assert live.counts.rows == 30 and live.counts.outside_window == 20 and live.counts.files == 1
    assert live.kept is not None and all(i.startswith("new-") for i in live.kept.ids)


def test_labels_join_by_request_id_and_row_and_live_accuracy_holds_the_truth(
    tmp_path: Path,
) -> None:
    known = world()
    live_frame = frame(1500, seed=6)
    items = records(known.model, live_frame)
    write_log(tmp_path / "log", items)
    labels = tmp_path / "labels.csv"
    order = np.random.default_rng(0).permutation(len(items))  # any order
    labels.write_text(
        "id,row,y\n" + "".join(f"{items[i]['id']},0,{live_frame['y'][i]}\n" for i in order),
        encoding="utf-8",
    )
    live = read_log([str(tmp_path / "log")], known.profile, keep=True)
    assert live.kept is not None
    joined = join_labels(live.kept, read_labels(str(labels), "y"))
    assert joined.notna().all()
    truth = float((np.asarray(live.kept.predictions) == live_frame["y"].to_numpy()).mean())
    result = judge(
        known.profile,
        live,
        Monitoring(min_rows=100),
        metrics=("accuracy",),
        bootstrap=Bootstrap(resamples=300),
        labels=joined,
    )
    (accuracy,) = result.performance
    assert not accuracy.estimate and accuracy.rows == 1500
    assert accuracy.value == pytest.approx(truth)
    assert accuracy.low is not None and accuracy.high is not None
    assert accuracy.low < truth < accuracy.high
    assert 0.01 < accuracy.high - accuracy.low < 0.08
    assert accuracy.reference == known.profile.metrics["accuracy"].value


def test_a_labels_file_without_the_target_is_unusable(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("id,row,label\na,0,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"labels\.csv: labels file has no column 'y'"):
        read_labels(str(labels), "y")


def test_the_confidence_based_estimate_holds_the_real_accuracy_of_a_calibrated_model() -> None:
    known = world()
    live = frame(3000, seed=9)
    features = live.drop(columns="y")
    proba = known.model.predict_proba(features)
    real = float((known.model.predict(features) == live["y"]).mean())
    estimate = cbpe_accuracy(proba)
    assert estimate.estimate and estimate.rows == 3000
    assert estimate.low is not None and estimate.high is not None
    assert estimate.low <= real <= estimate.high
    assert estimate.high - estimate.low < 0.05
