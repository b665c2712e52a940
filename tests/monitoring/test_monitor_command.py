"""`mlci monitor` end to end: healthy and drifted windows, no traffic, bad config, and PR-or
caller-controlled strings that try to break out of the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlci_action.cli import main
from mlci_action.monitoring.bins import bin_counts, psi
from mlci_action.monitoring.profile import build_profile
from tests.monitoring.world import frame, project, records, world, write_log, write_parquet


def run(root: Path, *args: str) -> tuple[int, dict, str]:
    code = main(
        [
            "monitor",
            "--config",
            str(root),
            "--reference",
            str(root / "reference.json"),
            "--out",
            str(root / "out"),
            *args,
        ]
    )
    out = root / "out"
    record = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
    report = (out / "report.md").read_text() if (out / "report.md").is_file() else ""
    return code, record, report


def test_a_healthy_window_passes_and_a_drifted_one_names_what_moved(tmp_path: Path) -> None:
    known = world()
    log = tmp_path / "log"
    root = project(tmp_path, known.profile, log=log)
    write_log(log, records(known.model, frame(800, seed=11)))
    code, record, report = run(root)
    assert code == 0 and record["kind"] == "monitor" and record["verdict"] == "healthy"
    assert record["counts"]["rows"] == 800
    (estimate,) = record["performance"]
    assert estimate["estimate"] is True and estimate["name"] == "accuracy"
    assert "(estimate)" in report and "CBPE" in report

    write_log(
        log,
        records(known.model, frame(800, seed=12, shift=1.2), prefix="late"),
        name="inference-2.jsonl",
    )
    code, record, report = run(root, "--since", "24h", "--log", str(log / "inference-2.jsonl"))
    assert code == 1 and record["verdict"] == "breached"
    assert {b["name"] for b in record["breaches"]} >= {"x1"}
    assert "x2" not in {b["name"] for b in record["breaches"]}
    assert "| x1 |" in report and "monitoring.drift.psi" in report


def test_an_empty_window_is_no_traffic_never_a_pass(tmp_path: Path) -> None:
    known = world()
    log = tmp_path / "log"
    log.mkdir()
    root = project(tmp_path, known.profile, log=log)
    code, record, report = run(root)
    assert code == 1 and record["verdict"] == "no_traffic"
    assert "no traffic" in report


def test_too_few_rows_give_no_drift_verdict(tmp_path: Path) -> None:
    known = world()
    log = tmp_path / "log"
    root = project(tmp_path, known.profile, log=log, min_rows=500)
    write_log(log, records(known.model, frame(50, seed=13, shift=3.0)))
    code, record, _ = run(root)
    assert code == 1 and record["verdict"] == "not_enough_traffic"
    assert record["breaches"] == [] and all(d["drifted"] is None for d in record["drift"])


@pytest.mark.parametrize(
    ("extra", "where", "field"),
    [
        ("", 16, "monitoring.min_rows"),
        ("", 15, "monitoring.window"),
        ("    f1_macro: {min: 0.5}\n", None, "monitoring.performance 'f1_macro'"),
    ],
)
def test_bad_monitoring_settings_exit_2_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, where: int | None, field: str
) -> None:
    known = world()
    root = project(tmp_path, known.profile, log=tmp_path, min_rows=500, extra=extra)
    text = (root / "mlci.yaml").read_text()
    if field == "monitoring.min_rows":
        text = text.replace("min_rows: 500", "min_rows: 0")
    if field == "monitoring.window":
        text = text.replace("window: 24h", "window: tomorrow")
    (root / "mlci.yaml").write_text(text)
    code, _, _ = run(root)
    err = capsys.readouterr().err
    assert code == 2
    assert field in err
    if where is not None:
        assert f"mlci.yaml:{where}: {field}" in err


def test_an_unknown_drift_feature_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    known = world()
    root = project(tmp_path, known.profile, log=tmp_path)
    text = (
        (root / "mlci.yaml")
        .read_text()
        .replace("drift: {psi: 0.2}", "drift:\n    psi: 0.2\n    features: [x1, colour]")
    )
    (root / "mlci.yaml").write_text(text)
    code, _, _ = run(root)
    err = capsys.readouterr().err
    assert code == 2 and "mlci.yaml:19: monitoring.drift.features: 'colour'" in err


HOSTILE = ["</details>", "-->", "`x`", '"]; click A href', "%%{init}%%", "<img src=x>", "@admin"]


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_log_strings_cannot_break_out_of_the_report(tmp_path: Path, kind: str) -> None:
    """Column names, category values and labels come from whoever calls the server (Parquet:
    read by column path, the categories as dictionaries)."""
    names = {f"f{i}{text}": text for i, text in enumerate(HOSTILE)}
    train = pd.DataFrame({name: ["a", "b"] * 300 for name in names} | {"y": [0, 1] * 300})
    classes = HOSTILE[:4]  # class labels too: each has a probability-drift row
    proba = pd.DataFrame({c: [0.25] * len(train) for c in classes})
    profile = build_profile(train, "y", train["y"].to_numpy(), proba, {}, task="classification")
    items = [
        {
            "id": f"{HOSTILE[i % len(HOSTILE)]}-{i}",
            "row": 0,
            "time": "2099-01-01T00:00:00.000000Z"
            if False
            else __import__("datetime")
            .datetime.now(__import__("datetime").UTC)
            .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "model": "</details><!--",
            "version": "`v`",
            "image_digest": "",
            "features": {name: text for name, text in names.items()},  # every value a new level
            "prediction": HOSTILE[i % len(HOSTILE)],
            "probabilities": {c: 0.9 if k == i % 4 else 0.03 for k, c in enumerate(classes)},
        }
        for i in range(600)
    ]
    log = tmp_path / "log"
    if kind == "parquet":
        write_parquet(log, items)
    else:
        path = write_log(log, items)
        with path.open("a") as handle:
            handle.write('{"id": "</details>-->", broken `x`\n')
    root = project(tmp_path, profile, log=log)
    code, record, report = run(root)
    assert code == 1 and {b["name"] for b in record["breaches"]} >= set(names)
    assert {item["name"] for item in record["probability_drift"]} == set(classes)
    for text in HOSTILE[1:]:
        assert text not in report, text
    # the one collapsed section is the report's own (malformed lines): nothing else closes it
    assert report.count("<details>") == report.count("</details>") == (kind == "jsonl")
    assert "-->" not in report and "%%{" not in report and "`x`" not in report


def test_probability_drift_is_reported_per_class_against_the_test_set(tmp_path: Path) -> None:
    known = world()
    log = tmp_path / "log"
    root = project(tmp_path, known.profile, log=log)
    live = frame(900, seed=14, shift=1.5)
    write_log(log, records(known.model, live))
    code, record, report = run(root)
    assert code == 1
    found = {item["name"]: item for item in record["probability_drift"]}
    assert set(found) == {"0", "1"}
    proba = known.model.predict_proba(live.drop(columns="y"))
    for index, name in enumerate(known.model.classes_):
        reference = (known.profile.probabilities or {})[str(name)]
        counts, _ = bin_counts(reference.edges, proba[:, index])
        expected = psi(reference.counts, counts)
        assert found[str(name)]["psi"] == pytest.approx(expected, abs=1e-6)
        assert found[str(name)]["rows"] == 900
    assert found["1"]["psi"] > 0.2 and found["1"]["drifted"] is True
    assert "#### Probability drift" in report and "| 1 |" in report
    # reported, not a limit of its own: the breaches name features and the prediction only
    assert {b["kind"] for b in record["breaches"]} <= {"drift", "prediction_drift"}
