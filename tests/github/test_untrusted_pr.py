"""A pull request is untrusted: the action's main() in-process against an attacker's PR.

The PR's code runs sandboxed in docker whatever its mlci.yaml says; its security settings come
from the base commit; its output cannot issue workflow commands; its gate changes are shown.
(The same attack under the real runner emulator is in tests/docker/test_action_e2e.py.)
"""

from __future__ import annotations

import json

import pytest
import yaml

from mlci_action.executors.environ import THREADS
from tests.attacker import poison, rogue_listener
from tests.conftest import git
from tests.github.api_double import GitHubDouble
from tests.github.test_action import TOKEN, pr_event, run_action

REGISTRY_PASSWORD = "reg1stry-Pa55word-never-seen"


@pytest.fixture
def gh():
    with GitHubDouble(token=TOKEN) as double:
        yield double


@pytest.fixture
def attack(make_project, base_image):
    """main: the example (docker executor by default); the PR: the attacker's changes."""
    project = make_project("classification")
    git(project, "checkout", "--quiet", "-b", "feature")
    with rogue_listener() as (port, received):
        poison(project, port)
        git(project, "add", "-A")
        git(project, "commit", "--quiet", "-m", "innocent refactoring")
        yield project, port, received


def secret_free(text: str) -> bool:
    return TOKEN not in text and REGISTRY_PASSWORD not in text


def test_the_attackers_pr_reaches_no_secret_host_or_decision(attack, gh, tmp_path, shared_cache):
    project, port, received = attack
    code, log, outputs, summary = run_action(
        project,
        gh,
        tmp_path,
        shared_cache,
        "pull_request",
        pr_event(project, gh),
        registry_username="mlci",
        registry_password=REGISTRY_PASSWORD,
    )
    assert code == 1, log  # the attacker's failing model test
    out = project / ".mlci" / "out"
    run = json.loads((out / "run.json").read_text())
    # where: the docker executor, whatever the PR's mlci.yaml said
    assert run["environment"]["executor"] == "docker"
    train_log = (out / "logs" / "train-candidate.log").read_text()
    assert "DOCKER-SOCKET False" in train_log
    assert f"NETWORK-BLOCKED {port}" in train_log and "NETWORK-BLOCKED 5000" in train_log
    env = json.loads(train_log.split("ENV-DUMP ", 1)[1].splitlines()[0])
    assert not [k for k in env if k.startswith(("INPUT_", "GITHUB_", "ACTIONS_", "DOCKER_"))]
    assert set(env) <= {
        "PATH",
        "HOME",
        "HOSTNAME",
        "LANG",
        "TERM",
        "PYTHONHASHSEED",
        "VIRTUAL_ENV",
        *THREADS,  # set by mlci when candidate and baseline train side by side
    } | {k for k in env if k.startswith(("MLCI_", "LC_", "OPENBLAS_", "OMP_"))}
    assert not (project / "exfiltrated.txt").exists()  # what PR code writes stays in its box
    # what happens to the result: the base's policy (no push on a PR), no rogue registry
    assert "push decision: no" in log and received == []
    assert outputs["digest"] == "" and run["deployment"] is None
    # the secrets appear nowhere: log, outputs, summary, report, run.json, logs, comment
    texts = [log, summary, json.dumps(outputs), *(p.read_text() for p in out.rglob("*.log"))]
    texts += [(out / "report.md").read_text(), (out / "run.json").read_text()]
    texts += [c.body for c in gh.comments_on(7)]
    masks = (f"::add-mask::{TOKEN}", f"::add-mask::{REGISTRY_PASSWORD}")  # hidden by the runner
    assert log.count(TOKEN) == 1 and log.count(REGISTRY_PASSWORD) == 1
    assert all(secret_free(t.replace(masks[0], "").replace(masks[1], "")) for t in texts)
    # the ignored settings and the loosened gate, in the report and the comment
    trust = run["trust"]
    ignored = {change["key"] for change in trust["ignored"]}
    assert {"environment.executor", "environment.network", "environment.pass_env"} <= ignored
    assert {"deploy.registry", "deploy.policy.on_pull_request"} <= ignored
    assert "evaluation.trusted_types" in ignored
    assert trust["gates"] == [{"key": "gates.accuracy.threshold", "base": "0.9", "head": "0.1"}]
    [comment] = gh.comments_on(7)
    assert "Changes to deploy settings take effect after merge" in comment.body
    assert "This pull request changes its own gates" in comment.body
    assert comment.body.index("changes its own gates") < comment.body.index("### Metrics")
    assert "::warning::mlci.yaml: the pull request changes settings" in log
    # the log is no command channel: the PR's output sits between stop-commands tokens
    fences = [line for line in log.splitlines() if line.startswith("::stop-commands::mlci-")]
    assert fences
    for attempt in ("::error title=mlci::all gates passed", "::add-mask::breast"):
        if attempt in log:
            before = log[: log.index(attempt)]
            token = before.rsplit("::stop-commands::", 1)[1].splitlines()[0]
            assert f"::{token}::" in log[log.index(attempt) :]
    assert "::error title=mlci model_tests failed::" in log  # mlci's own still work


def test_a_base_branch_that_runs_pr_code_unsandboxed_is_an_input_error(
    make_project, gh, tmp_path, shared_cache
):
    project = make_project("classification")
    config = yaml.safe_load((project / "mlci.yaml").read_text())
    config["environment"]["executor"] = "local"
    (project / "mlci.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(project, "commit", "--quiet", "-am", "local executor on main")
    git(project, "checkout", "--quiet", "-b", "feature")
    code, log, _, _ = run_action(
        project, gh, tmp_path, shared_cache, "pull_request", pr_event(project, gh)
    )
    assert code == 2
    assert "environment.executor is 'local' in the trusted mlci.yaml" in log
    assert "set environment.executor to docker (or auto) on the base branch" in log
    assert not (project / ".mlci").exists()
