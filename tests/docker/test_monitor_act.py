"""The monitoring loop's trigger for real: act runs mlci's action on the nightly `schedule`
against the spec-checked GitHub API double. A drifted inference log opens one issue and
creates one workflow_dispatch (action retrain); a second drifted night updates the same
issue; a healthy night closes it.

The inference log and the reference profile are the synthetic world of tests/monitoring/
(a shifted feature, a known model). The action image does not carry the monitor's
dependencies: the first night installs them (pinned, hashed, from PyPI) into
MLCI_MONITOR_ENV in the workspace, and the next nights reuse them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.docker.test_action_e2e import RUNNER_UID
from tests.github.act import init_repo, run_act
from tests.github.api_double import GitHubDouble
from tests.monitoring import world as synthetic

pytestmark = pytest.mark.e2e

TOKEN = "ghs_monitorE2eT0kenValue0123456789abcd"
WORKFLOW = """\
name: mlci-monitor
on:
  schedule:
    - cron: "17 3 * * *"
  workflow_dispatch:
    inputs:
      action: {default: monitor}
      reason: {default: ""}
permissions:
  contents: read
  issues: write
  actions: write
jobs:
  monitor:
    runs-on: ubuntu-latest
    steps:
      - id: mlci
        uses: ./.github/actions/mlci
        with:
          config: .
      - if: always()
        run: echo "outputs verdict=${{ steps.mlci.outputs.verdict }} issue=${{ steps.mlci.outputs.issue }}"
"""
RETRAIN = "mlci-monitor.yml"


@pytest.fixture
def monitored_repo(tmp_path, action_image, docker_client) -> Path:
    demo = synthetic.world()
    repo = synthetic.project(tmp_path, demo.profile, log=Path("logs"))
    (repo / "mlci.yaml").write_text(
        (repo / "mlci.yaml").read_text()
        + f"  reference: reference.json\n  retrain_workflow: {RETRAIN}\n"
    )
    action = repo / ".github" / "actions" / "mlci"
    action.mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", action / "action.yml")
    shutil.copy(ROOT / "Dockerfile", action / "Dockerfile")
    (repo / ".github" / "workflows").mkdir()
    (repo / ".github" / "workflows" / RETRAIN).write_text(WORKFLOW)
    (repo / ".gitignore").write_text(".mlci/\nlogs/\n")
    return repo


def night(repo: Path, gh: GitHubDouble, image: str, shift: float, seed: int):
    """One nightly run on a fresh log of 800 one-row requests, ``shift`` moving x1."""
    demo = synthetic.world()
    shutil.rmtree(repo / "logs", ignore_errors=True)
    rows = synthetic.frame(800, seed=seed, shift=shift)
    synthetic.write_log(repo / "logs", synthetic.records(demo.model, rows))
    for path in [repo, *repo.rglob("*")]:  # the runner's user owns the checkout
        os.chown(path, RUNNER_UID, RUNNER_UID, follow_symlinks=False)
    result = run_act(
        repo,
        "schedule",
        {
            "schedule": "17 3 * * *",
            "repository": {"full_name": gh.full_name, "default_branch": "main"},
        },
        env={
            "GITHUB_API_URL": gh.url,
            "GITHUB_REPOSITORY": gh.full_name,
            "MLCI_MONITOR_ENV": ".mlci/monitor-env",
        },
        secrets={"GITHUB_TOKEN": TOKEN},
        rebuild=False,
        timeout=600,
        action_image=image,  # tagged for act under the machine's act lock
    )
    assert TOKEN not in result.output
    return result


def test_drifted_nights_open_then_update_one_issue_and_a_healthy_night_closes_it(
    monitored_repo, action_image
):
    with GitHubDouble(token=TOKEN) as gh:
        sha = init_repo(monitored_repo, repository=gh.full_name)
        gh.set_branch("main", sha)
        gh.add_workflow(RETRAIN)

        first = night(monitored_repo, gh, action_image, 1.5, seed=21)
        assert not first.ok  # a breach fails the nightly job: that is the alarm
        assert first.output.count("installing mlci monitor's dependencies") == 1
        assert "outputs verdict=breached issue=" in first.output, first.describe()
        [issue] = gh.state.issues.values()
        assert issue.title == "mlci · demo: drift detected" and "x1" in issue.body
        first_body = issue.body
        [dispatch] = gh.state.dispatches
        assert (dispatch.workflow, dispatch.ref) == (RETRAIN, "main")
        assert dispatch.inputs["action"] == "retrain" and "x1" in dispatch.inputs["reason"]

        second = night(monitored_repo, gh, action_image, 2.0, seed=22)
        assert "outputs verdict=breached" in second.output, second.describe()
        assert "installing mlci monitor's dependencies" not in second.output  # kept
        [same] = gh.state.issues.values()
        assert same.number == issue.number and same.body != first_body
        assert len(gh.state.dispatches) == 2

        third = night(monitored_repo, gh, action_image, 0.0, seed=23)
        assert third.ok, third.describe()
        assert gh.state.issues[issue.number].state == "closed"
        assert len(gh.comments_on(issue.number)) == 1 and len(gh.state.dispatches) == 2
        gh.assert_clean()
