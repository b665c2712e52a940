"""The action's main() in-process: a real git repository, real uv environments, the API double.

(The same code runs under the real runner emulator, act, in test_act.py.)
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mlci_action.github.action import main
from tests.conftest import git
from tests.github.api_double import GitHubDouble
from tests.test_run import commit_change

TOKEN = "ghs_actionT0kenValue0123456789abcdefXYZ"


@pytest.fixture
def gh():
    with GitHubDouble(token=TOKEN) as double:
        yield double


@pytest.fixture
def pr_repo(make_project, base_image):
    """main holds the baseline; the PR's head changes a parameter. (A PR's code runs only in
    docker, so these tests need the engine and the base image.)"""
    project = make_project("classification")
    git(project, "checkout", "--quiet", "-b", "feature")
    commit_change(project, "params.yaml", "C: 1.0", "C: 0.5", "stronger regularisation")
    return project


def pr_event(
    project: Path, gh: GitHubDouble, number: int = 7, author: str = "bob", fork: bool = False
) -> dict:
    head = git(project, "rev-parse", "HEAD")
    base = git(project, "rev-parse", "main")
    gh.add_pull(number, author=author, head_sha=head, head_repo_fork=fork)
    head_repo = {"full_name": "mallory/models" if fork else gh.full_name, "fork": fork}
    return {
        "number": number,
        "pull_request": {
            "number": number,
            "user": {"login": author},
            "head": {"sha": head, "ref": "feature", "repo": head_repo},
            "base": {"sha": base, "ref": "main"},
        },
        "repository": {"full_name": gh.full_name, "default_branch": "main"},
    }


def run_action(project, gh, tmp_path, shared_cache, name, payload, **inputs):
    event = tmp_path / f"event-{name}.json"
    event.write_text(json.dumps(payload))
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.write_text("")
    summary.write_text("")
    environ = {
        "GITHUB_EVENT_NAME": name,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": gh.full_name,
        "GITHUB_SHA": git(project, "rev-parse", "HEAD"),
        "GITHUB_REF": "refs/pull/7/merge" if "pull_request" in payload else "refs/heads/main",
        "GITHUB_ACTOR": "bob",
        "GITHUB_WORKSPACE": str(project),
        "GITHUB_API_URL": gh.url,
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "MLCI_EXECUTOR": "local",
        "MLCI_CACHE_DIR": str(shared_cache),
        "INPUT_CONFIG": ".",
        "INPUT_GITHUB-TOKEN": TOKEN,
        **{f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()},
    }
    out = io.StringIO()
    code = main(environ, out)
    return code, out.getvalue(), parse_outputs(output.read_text()), summary.read_text()


def parse_outputs(text: str) -> dict[str, str]:
    outputs, lines = {}, iter(text.splitlines())
    for line in lines:
        name, delimiter = line.split("<<", 1)
        value = []
        for item in lines:
            if item == delimiter:
                break
            value.append(item)
        outputs[name] = "\n".join(value)
    return outputs


def test_pull_request_comment_is_sticky_and_check_matches(pr_repo, gh, tmp_path, shared_cache):
    payload = pr_event(pr_repo, gh)
    code, log, outputs, summary = run_action(
        pr_repo, gh, tmp_path, shared_cache, "pull_request", payload
    )
    assert code == 0, log
    assert outputs["verdict"] == "pass" and outputs["digest"] == ""
    assert set(json.loads(outputs["metrics"])) == {"accuracy", "f1", "roc_auc", "log_loss"}
    assert not Path(outputs["report"]).is_absolute() and (pr_repo / outputs["report"]).is_file()
    assert summary.startswith("## ✅ mlci · breast\\-cancer: pass")
    assert "::group::" in log and "::endgroup::" in log
    assert f"::add-mask::{TOKEN}" in log
    assert log.count(TOKEN) == 1  # only inside the add-mask command, which the runner hides
    [comment] = gh.comments_on(7)
    first_id, first_body = comment.id, comment.body
    base = payload["pull_request"]["base"]["sha"]
    assert f"Baseline: main @ `{base[:12]}`" in comment.body  # by name and sha, not a bare sha
    assert (
        comment.body.startswith("<!-- mlci:breast-cancer -->") and "| accuracy ↑ |" in comment.body
    )
    [check] = gh.state.check_runs.values()
    assert (
        check["conclusion"] == "success"
        and check["head_sha"] == payload["pull_request"]["head"]["sha"]
    )

    # a second push to the PR: the same comment, edited, now with the new metrics
    commit_change(pr_repo, "params.yaml", "C: 0.5", "C: 0.25", "even stronger")
    payload = pr_event(pr_repo, gh)
    code, log, outputs, _ = run_action(pr_repo, gh, tmp_path, shared_cache, "pull_request", payload)
    assert code == 0, log
    [edited] = gh.comments_on(7)
    assert edited.id == first_id and edited.body != first_body
    assert "0\\.25" in edited.body  # the params diff of the latest run
    assert len(gh.requests_to("POST", r"/issues/7/comments$")) == 1
    gh.assert_clean()


def test_a_pr_that_breaks_a_gate_fails_the_check(pr_repo, gh, tmp_path, shared_cache):
    commit_change(pr_repo, "params.yaml", "C: 0.5", "C: 0.0005", "far too much regularisation")
    code, log, outputs, _ = run_action(
        pr_repo, gh, tmp_path, shared_cache, "pull_request", pr_event(pr_repo, gh)
    )
    assert code == 1
    assert outputs["verdict"] == "fail" and outputs["image"] == ""
    [check] = gh.state.check_runs.values()
    assert check["conclusion"] == "failure"
    assert "::error file=mlci.yaml,line=" in log and "gate accuracy" in log
    gh.assert_clean()


def test_api_faults_are_survived(pr_repo, gh, tmp_path, shared_cache):
    gh.fail_next("GET", r"/issues/7/comments$", 502)
    gh.fail_next(
        "POST",
        r"/check-runs$",
        403,
        headers={"Retry-After": "1"},
        body={"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
    )
    code, log, _, _ = run_action(
        pr_repo, gh, tmp_path, shared_cache, "pull_request", pr_event(pr_repo, gh)
    )
    assert code == 0, log
    assert len(gh.comments_on(7)) == 1 and len(gh.state.check_runs) == 1
    assert len(gh.requests_to("GET", r"/issues/7/comments$")) >= 2
    assert len(gh.requests_to("POST", r"/check-runs$")) == 2
    gh.assert_clean()


def test_a_comment_that_cannot_be_posted_changes_nothing_else(pr_repo, gh, tmp_path, shared_cache):
    gh.fail_next("POST", r"/issues/7/comments$", 404, body={"message": "Not Found"}, times=10)
    gh.set_check_runs_forbidden()
    code, log, outputs, summary = run_action(
        pr_repo, gh, tmp_path, shared_cache, "pull_request", pr_event(pr_repo, gh)
    )
    assert code == 0 and outputs["verdict"] == "pass"
    assert "::warning::could not post the PR comment" in log
    assert summary.startswith("## ✅")  # the report is still in the job summary
    assert gh.comments_on(7) == []
    [status] = gh.state.statuses  # no check-run permission: a commit status instead
    assert status["state"] == "success"
    assert TOKEN not in log.replace(f"::add-mask::{TOKEN}", "")


def test_bad_inputs_exit_2_with_an_annotation(pr_repo, gh, tmp_path, shared_cache):
    code, log, _, _ = run_action(
        pr_repo,
        gh,
        tmp_path,
        shared_cache,
        "pull_request",
        pr_event(pr_repo, gh),
        comment="perhaps",
    )
    assert code == 2
    assert "::error title=mlci::the action's inputs are not valid" in log and "INPUT_COMMENT" in log


def test_an_unknown_dispatch_action_exits_2_before_anything_runs(
    pr_repo, gh, tmp_path, shared_cache
):
    payload = {"inputs": {"action": "retrian"}, "ref": "refs/heads/main"}
    code, log, outputs, _ = run_action(
        pr_repo, gh, tmp_path, shared_cache, "workflow_dispatch", payload
    )
    assert code == 2
    assert "workflow_dispatch input `action` is 'retrian'" in log
    assert "retrain, evaluate, promote, rollback" in log
    assert outputs == {} and not (pr_repo / ".mlci").exists()
