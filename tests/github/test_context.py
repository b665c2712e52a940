"""The action's entry checks: inputs, event payloads, workflow commands, the approval rules."""

from __future__ import annotations

import io
import json

import pytest

from mlci_action.config import DeployPolicy
from mlci_action.errors import ConfigError
from mlci_action.github.api import Approval
from mlci_action.github.approval import decide
from mlci_action.github.commands import Workflow
from mlci_action.github.context import ActionInputs, load_event, load_inputs


def event_env(tmp_path, name, payload, **extra):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return {
        "GITHUB_EVENT_NAME": name,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_SHA": "a" * 40,
        "GITHUB_REF": extra.pop("ref", "refs/heads/main"),
        "GITHUB_ACTOR": extra.pop("actor", "alice"),
        **extra,
    }


def pr_payload(fork=False, author="bob"):
    head_repo = {"full_name": "mallory/models" if fork else "acme/models", "fork": fork}
    return {
        "number": 7,
        "pull_request": {
            "number": 7,
            "user": {"login": author},
            "head": {"sha": "c" * 40, "ref": "feature", "repo": head_repo},
            "base": {"sha": "b" * 40, "ref": "main"},
        },
        "repository": {"full_name": "acme/models", "default_branch": "main"},
    }


def test_inputs_parse_and_keep_secrets_secret():
    inputs = load_inputs(
        {
            "INPUT_GITHUB-TOKEN": "ghs_secret",
            "INPUT_COMMENT": "false",
            "INPUT_PUSH": "never",
            "INPUT_REGISTRY-PASSWORD": "pw",
        }
    )
    assert inputs.comment is False and inputs.push == "never"
    assert "ghs_secret" not in repr(inputs) and "pw" not in repr(inputs)
    assert (
        inputs.github_token is not None and inputs.github_token.get_secret_value() == "ghs_secret"
    )


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"INPUT_COMMENT": "maybe"}, "input `comment` (INPUT_COMMENT)"),
        ({"INPUT_PUSH": "sometimes"}, "input `push`"),
    ],
)
def test_bad_inputs_name_the_input(env, words):
    with pytest.raises(ConfigError) as info:
        load_inputs(env)
    assert words in str(info.value) and "with:" in str(info.value)


@pytest.mark.parametrize(
    ("env", "slug"),
    [
        ({}, None),
        ({"INPUT_APP-SLUG": ""}, None),  # action.yml's default
        ({"INPUT_APP-SLUG": " my-app2 "}, "my-app2"),
        ({"INPUT_APP_SLUG": "github-actions"}, "github-actions"),
    ],
)
def test_app_slug_input(env, slug):
    assert load_inputs(env).app_slug == slug


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("My-App", "lowercase letters, digits and hyphens"),
        ("my app", "got 'my app'"),
        ("my_app", "got 'my_app'"),
        ("-app", "got '-app'"),
        ("my-app[bot]", "without [bot]"),
    ],
)
def test_a_bad_app_slug_names_the_input(value, words):
    with pytest.raises(ConfigError) as info:
        load_inputs({"INPUT_APP-SLUG": value})
    message = str(info.value)
    assert "input `app-slug` (INPUT_APP-SLUG)" in message and words in message, message
    assert "with:" in message


def test_pull_request_event_and_fork_detection(tmp_path):
    event = load_event(event_env(tmp_path, "pull_request", pr_payload(), ref="refs/pull/7/merge"))
    assert event.pull_request is not None and event.pull_request.number == 7
    assert event.pull_request.base_sha == "b" * 40 and not event.pull_request.is_fork
    fork = load_event(event_env(tmp_path, "pull_request", pr_payload(fork=True)))
    assert fork.pull_request is not None and fork.pull_request.is_fork


def test_unknown_event_and_unreadable_payload(tmp_path):
    with pytest.raises(ConfigError, match="GITHUB_EVENT_NAME='issues'"):
        load_event(event_env(tmp_path, "issues", {}))
    env = event_env(tmp_path, "push", {})
    env["GITHUB_EVENT_PATH"] = str(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="cannot read the event payload"):
        load_event(env)


def test_workflow_commands_escape_and_files(tmp_path):
    out = io.StringIO()
    output, summary = tmp_path / "out", tmp_path / "summary"
    workflow = Workflow({"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}, out)
    workflow.error("line one\n::warning::injected 100%", file="data/a,b.csv", line=3)
    workflow.mask("s3cret\nsecond-line")
    workflow.set_output("metrics", '{"a": 1}\nsecond line')
    workflow.summary("## report")
    lines = out.getvalue().splitlines()
    assert lines[0] == "::error file=data/a%2Cb.csv,line=3::line one%0A::warning::injected 100%25"
    assert lines[1:] == ["::add-mask::s3cret", "::add-mask::second-line"]
    text = output.read_text()
    delimiter = text.split("<<", 1)[1].split("\n", 1)[0]
    assert text == f'metrics<<{delimiter}\n{{"a": 1}}\nsecond line\n{delimiter}\n'
    assert summary.read_text() == "## report\n"


class FakeApprovals:
    """Answers like GitHubAPI, from fixed data: the rules are what is tested here."""

    def __init__(self, approvers=(), permissions=None):
        self.approvers = list(approvers)
        self.permissions = permissions or {}

    def standing_approvals(self, pr_number, author):
        head = "c" * 40  # pr_payload's head: each approval was given on it
        return [Approval(a, head, None, i) for i, a in enumerate(self.approvers) if a != author]

    def permission(self, user):
        return self.permissions.get(user, "none")


@pytest.mark.parametrize(
    ("name", "payload", "extra", "policy", "api", "push", "words"),
    [
        (
            "push",
            {"repository": {"default_branch": "main"}},
            {},
            DeployPolicy(),
            None,
            True,
            "push to main",
        ),
        ("push", {}, {"ref": "refs/heads/dev"}, DeployPolicy(), None, False, "not one of"),
        (
            "pull_request",
            pr_payload(),
            {},
            DeployPolicy(),
            None,
            False,
            "pull requests do not push",
        ),
        (
            "pull_request",
            pr_payload(),
            {},
            DeployPolicy(on_pull_request=True),
            None,
            True,
            "on_pull_request",
        ),
        (
            "pull_request_review",
            {**pr_payload(), "review": {"state": "approved", "user": {"login": "carol"}}},
            {},
            DeployPolicy(),
            FakeApprovals(["carol"]),
            True,
            "approved by carol",
        ),
        (
            "pull_request_review",
            {**pr_payload(author="bob"), "review": {"state": "approved", "user": {"login": "bob"}}},
            {},
            DeployPolicy(),
            FakeApprovals(["bob"]),
            False,
            "0 of 1 required",
        ),
        (
            "pull_request_review",
            {**pr_payload(fork=True), "review": {"state": "approved", "user": {"login": "carol"}}},
            {},
            DeployPolicy(),
            FakeApprovals(["carol"]),
            False,
            "fork",
        ),
        (
            "workflow_dispatch",
            {"inputs": {"action": "retrain"}},
            {"actor": "dave"},
            DeployPolicy(),
            FakeApprovals(permissions={"dave": "write"}),
            True,
            "manual dispatch by dave",
        ),
        (
            "workflow_dispatch",
            {"inputs": {}},
            {"actor": "eve"},
            DeployPolicy(),
            FakeApprovals(permissions={"eve": "read"}),
            False,
            "read permission",
        ),
        ("schedule", {}, {}, DeployPolicy(), None, False, "re-evaluate"),
    ],
)
def test_approval_rules(tmp_path, name, payload, extra, policy, api, push, words):
    event = load_event(event_env(tmp_path, name, payload, **extra))
    decision = decide(event, policy, ActionInputs(), api)
    assert decision.push is push and words in decision.reason, decision.reason


def test_push_input_never_wins(tmp_path):
    event = load_event(event_env(tmp_path, "push", {"repository": {"default_branch": "main"}}))
    assert not decide(event, DeployPolicy(), ActionInputs(push="never"), None).push
