"""`mlci run` end to end with slices, an interval rule and a slice gate (local executor)."""

from __future__ import annotations

from tests.conftest import git
from tests.test_run import read_run

GATES = """gates:
  accuracy:
    threshold: 0.9             # never ship below 90 %
    max_regression: 0.02       # nor more than 2 points below the baseline
  roc_auc:
    threshold: 0.95
"""
STATS = """  slices:
    - mean_radius >= 15
    - "`mean_texture` < 18"
    - diagnosis

gates:
  accuracy:
    threshold: 0.9
    max_regression: 0.005
    rule: no_significant_regression
    slices: {max_regression: 0.0, rule: no_significant_regression}
  roc_auc:
    threshold: 0.95
    rule: non_inferiority
    max_regression: 0.05
"""


def test_slices_tests_and_rules_end_to_end(make_project, mlci):
    project = make_project("classification")
    config = project / "mlci.yaml"
    text = config.read_text()
    assert GATES in text
    config.write_text(text.replace(GATES, STATS))
    (project / "params.yaml").write_text(
        (project / "params.yaml").read_text().replace("C: 1.0", "C: 0.3")
    )
    git(project, "commit", "--quiet", "-am", "slices and rules; a little more regularisation")
    done = mlci("run", str(project), "--base", "HEAD~1")
    assert done.returncode in (0, 1), done.stderr
    run = read_run(project)
    metrics = run["metrics"]
    assert metrics["accuracy"]["test"] == "mcnemar" and metrics["roc_auc"]["test"] == "delong"
    assert metrics["f1"]["test"] == "bootstrap" and metrics["log_loss"]["test"] == "bootstrap"
    for m in metrics.values():
        assert m["ci_low"] <= m["delta"] <= m["ci_high"] and 0 <= m["p_value"] <= 1
        # identical answers (the same labels on both sides) leave no spread to read an MDE from
        assert m["mde"] is None or m["mde"] > 0
    assert metrics["accuracy"]["mde"] > 0 and metrics["roc_auc"]["mde"] > 0
    names = [s["name"] for s in run["slices"]]
    assert names[:2] == ["mean_radius >= 15", "`mean_texture` < 18"]
    assert {"diagnosis = 0", "diagnosis = 1"} <= set(names)
    rows = {s["name"]: s["rows"] for s in run["slices"]}
    assert rows["diagnosis = 0"] + rows["diagnosis = 1"] == 114
    # a slice of one class: roc_auc has no value there, and the slice is too small to judge
    one_class = next(s for s in run["slices"] if s["name"] == "diagnosis = 1")
    assert one_class["too_small"].endswith("all of one class")
    assert "np." not in run["slices"][0]["too_small"]  # the class as spelled: 0, not np.int64(0)
    assert one_class["metrics"]["roc_auc"]["candidate"] is None
    gates = {g["name"]: g for g in run["gates"]}
    assert gates["accuracy"]["rule"] == "no_significant_regression"
    assert (
        gates["roc_auc"]["rule"] == "non_inferiority"
        and "non-inferiority" in gates["roc_auc"]["reason"]
    )
    slice_gates = [g for g in run["gates"] if g["slice"]]
    assert len(slice_gates) == len(run["slices"])
    assert any("too small to judge" in w for g in slice_gates for w in g["warnings"])
    # 114 test rows cannot resolve a regression limit of 0.005 in accuracy
    assert any(
        "cannot detect a regression of 0.005 in accuracy" in w
        for w in gates["accuracy"]["warnings"]
    )
    assert ("worst slice: " in run["summary"]) == (run["verdict"] == "pass")  # else: failures
    report = (project / ".mlci" / "out" / "report.md").read_text()
    assert "| accuracy | mcnemar |" in report and "| roc\\_auc | delong |" in report
    assert (
        "<details><summary>Slices: " in report
        and "| mean\\_radius &gt;= 15 ⚠️ too small | 37 |" in report
    )
    assert "cannot detect a regression of 0\\.005 in accuracy" in report
