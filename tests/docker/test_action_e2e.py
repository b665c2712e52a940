"""The action for real: act runs mlci's Docker action on an example repository, against the
spec-checked GitHub API double and the local authenticated registry.

The action image is built once per session from the real Dockerfile with host networking (the
daemon here has no bridge network, so act's own build could not reach PyPI) and tagged as act
names a `uses: ./.github/actions/mlci` action; act then runs it as a runner would: inputs,
secrets, GITHUB_OUTPUT, the Docker socket mounted into the action container.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.attacker import poison, rogue_listener
from tests.conftest import EXAMPLES, ROOT, git
from tests.docker.test_images import registry_tags
from tests.github.act import MLCI_ACTION_ACT_TAG, init_repo, run_act
from tests.github.api_double import GitHubDouble

pytestmark = pytest.mark.e2e

TOKEN = "ghs_e2eT0kenValue0123456789abcdefghij"
WORKFLOW = """\
name: mlci
on:
  pull_request: {}
  push:
    branches: [main]
  pull_request_review:
    types: [submitted]
  schedule:
    - cron: "17 3 * * *"
  workflow_dispatch:
    inputs:
      action: {default: retrain}
      digest: {default: ""}
      tag: {default: ""}
jobs:
  mlci:
    runs-on: ubuntu-latest
    steps:
      - id: mlci
        uses: ./.github/actions/mlci
        with:
          config: .
          registry-username: mlci
          registry-password: ${{ secrets.REGISTRY_PASSWORD }}
      - if: always()
        run: echo "outputs verdict=${{ steps.mlci.outputs.verdict }} digest=${{ steps.mlci.outputs.digest }}"
"""


RUNNER_UID = 1001


@pytest.fixture
def gh():
    with GitHubDouble(token=TOKEN) as double:
        yield double


@pytest.fixture
def action_repo(tmp_path, action_image, docker_client, registry, gh):
    """The classification example as a repository that uses mlci's action."""
    repo = tmp_path / "repo"
    shutil.copytree(
        EXAMPLES / "classification",
        repo,
        ignore=shutil.ignore_patterns(".mlci", "*.skops", "__pycache__"),
    )
    image = f"mlci-e2e/bc-{uuid.uuid4().hex[:8]}"
    (repo / "mlci.yaml").write_text(
        (repo / "mlci.yaml").read_text()
        + f"\ndeploy:\n  base_image: mlci-base:bookworm\n  registry: {registry.host}\n  image: {image}\n"
    )
    action = repo / ".github" / "actions" / "mlci"
    action.mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", action / "action.yml")
    shutil.copy(ROOT / "Dockerfile", action / "Dockerfile")
    (repo / ".github" / "workflows").mkdir()
    (repo / ".github" / "workflows" / "mlci.yml").write_text(WORKFLOW)
    (repo / ".gitignore").write_text(".mlci/\n")
    init_repo(repo, repository=gh.full_name)
    # as on GitHub's runners: the runner's user (1001) owns the checkout, the action runs as root
    for path in [repo, *repo.rglob("*")]:
        os.chown(path, RUNNER_UID, RUNNER_UID, follow_symlinks=False)
    docker_client.images.get(action_image).tag(MLCI_ACTION_ACT_TAG)
    return repo, image


def act(
    repo: Path, gh: GitHubDouble, registry, event: str, payload: dict, *, actor: str = "bob", **kw
):
    result = run_act(
        repo,
        event,
        payload,
        env={"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.full_name},
        secrets={"GITHUB_TOKEN": TOKEN, "REGISTRY_PASSWORD": registry.password},
        rebuild=False,
        actor=actor,
        timeout=900,
        **kw,
    )
    assert registry.password not in result.output and TOKEN not in result.output
    return result


def pr_payload(
    repo: Path,
    gh: GitHubDouble,
    *,
    author: str = "bob",
    fork: bool = False,
    review: str | None = None,
):
    head, base = git(repo, "rev-parse", "HEAD"), git(repo, "rev-parse", "main")
    gh.add_pull(7, author=author, head_sha=head, head_repo_fork=fork)
    payload = {
        "number": 7,
        "action": "submitted" if review else "synchronize",
        "pull_request": {
            "number": 7,
            "user": {"login": author},
            "head": {
                "sha": head,
                "ref": "feature",
                "repo": {"full_name": "mallory/models" if fork else gh.full_name, "fork": fork},
            },
            "base": {"sha": base, "ref": "main", "repo": {"full_name": gh.full_name}},
        },
        "repository": {"full_name": gh.full_name, "default_branch": "main"},
    }
    if review:
        payload["review"] = {"state": review, "user": {"login": "carol"}}
    return payload


def change(repo: Path, old: str, new: str) -> None:
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace(old, new))
    git(repo, "commit", "--quiet", "-am", f"{old} -> {new}")


def test_pull_request_twice_then_approval_pushes(action_repo, gh, registry, docker_client):
    repo, image = action_repo
    git(repo, "checkout", "--quiet", "-b", "feature")
    change(repo, "C: 1.0", "C: 0.5")
    gh.fail_next("GET", r"/issues/7/comments$", 502)  # a flaky API is survived
    first = act(repo, gh, registry, "pull_request", pr_payload(repo, gh))
    assert first.ok, first.describe()
    assert "outputs verdict=pass digest=" in first.output
    change(repo, "C: 0.5", "C: 0.25")
    gh.fail_next(
        "POST",
        r"/check-runs$",
        403,
        headers={"Retry-After": "1"},
        body={"message": "You have exceeded a secondary rate limit."},
    )
    second = act(repo, gh, registry, "pull_request", pr_payload(repo, gh))
    assert second.ok, second.describe()
    [comment] = gh.comments_on(7)
    assert "| accuracy ↑ |" in comment.body and "0\\.25" in comment.body
    conclusions = [run["conclusion"] for run in gh.state.check_runs.values()]
    assert conclusions == ["success", "success"]
    assert registry_tags(registry, image) == []  # a PR alone pushes nothing

    # the author approving their own PR does not count
    gh.set_permission("bob", "write")
    gh.add_review(7, "bob", "APPROVED")
    own = act(repo, gh, registry, "pull_request_review", pr_payload(repo, gh, review="approved"))
    assert own.ok, own.describe()
    assert "push decision: no" in own.output and registry_tags(registry, image) == []

    # a stale approval ships nothing: carol approves A, the author pushes B, a reader approves
    gh.set_permission("carol", "write")
    approved_a = git(repo, "rev-parse", "HEAD")
    gh.add_review(7, "carol", "APPROVED", commit_id=approved_a)
    change(repo, "C: 0.25", "C: 0.3")
    head_b = git(repo, "rev-parse", "HEAD")
    gh.set_permission("eve", "read")
    payload = pr_payload(repo, gh, review="approved")
    gh.add_review(7, "eve", "APPROVED")
    stale = act(repo, gh, registry, "pull_request_review", payload)
    assert stale.ok, stale.describe()
    assert "push decision: no" in stale.output
    assert f"carol approved {approved_a[:12]}, not the head {head_b[:12]}" in stale.output
    assert registry_tags(registry, image) == []

    # a writer's approval of the head ships the image, with its labels
    gh.add_review(7, "carol", "APPROVED")
    approved = act(
        repo, gh, registry, "pull_request_review", pr_payload(repo, gh, review="approved")
    )
    assert approved.ok, approved.describe()
    head = git(repo, "rev-parse", "HEAD")
    tags = registry_tags(registry, image)
    # an approved PR: its commit's tags, pr-7 and its content key; no moving tag before merge
    assert {head, head[:12], "pr-7"} <= set(tags) and "latest" not in tags
    assert [t for t in tags if t.startswith("key-")]
    approved_digest = approved.output.split("digest=", 1)[1].split()[0]
    assert approved_digest.startswith("sha256:")
    assert (repo / ".mlci" / "out" / "attestation.intoto.json").is_file()
    verified = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "mlci"),
            "verify",
            f"{registry.host}/{image}@{approved_digest}",
        ],
        env={
            **os.environ,
            "MLCI_REGISTRY_USERNAME": "mlci",
            "MLCI_REGISTRY_PASSWORD": registry.password,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # the smoke-tested server shared the action container's network (as it must on a GitHub
    # runner, where that container sits on its own bridge network), and agreed on every
    # label and probability
    smoke = json.loads((repo / ".mlci" / "out" / "run.json").read_text())["smoke_test"]
    assert smoke["network"].startswith("container:") and len(smoke["network"]) == 74
    assert smoke["mismatches"] == 0 and smoke["probabilities"] and smoke["rows"] > 100
    repository = f"{registry.host}/{image}"
    docker_client.images.pull(repository, tag=head[:12], auth_config=registry.auth_config)
    labels = docker_client.images.get(f"{repository}:{head[:12]}").labels
    assert labels["org.opencontainers.image.revision"] == head
    assert labels["org.mlci.approved-commit"] == head and labels["org.mlci.approvers"] == "carol"
    assert json.loads(labels["org.mlci.metrics"])["accuracy"] > 0.9

    # the merge: main's tree is the approved head's, so the approved image itself becomes
    # latest, by digest: nothing is retrained or rebuilt
    git(repo, "checkout", "--quiet", "main")
    git(repo, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #7", "feature")
    merge = git(repo, "rev-parse", "HEAD")
    for path in [repo, *repo.rglob("*")]:
        os.chown(path, RUNNER_UID, RUNNER_UID, follow_symlinks=False)
    merged = act(
        repo,
        gh,
        registry,
        "push",
        {
            "ref": "refs/heads/main",
            "after": merge,
            "repository": {"full_name": gh.full_name, "default_branch": "main"},
        },
    )
    assert merged.ok, merged.describe()
    assert f"digest={approved_digest}" in merged.output
    assert "not retrained" in merged.output
    run = json.loads((repo / ".mlci" / "out" / "run.json").read_text())
    assert "train" not in run["stages"] and run["deployment"]["digest"] == approved_digest
    assert {merge, "latest"} <= set(registry_tags(registry, image))
    digest_of_latest = docker_client.api.inspect_distribution(
        f"{repository}:latest", auth_config=registry.auth_config
    )["Descriptor"]["digest"]
    assert digest_of_latest == approved_digest
    [staging] = [d for d in gh.state.deployments.values() if d.environment == "staging"]
    assert staging.sha == merge and staging.payload["digest"] == approved_digest
    assert gh.deployment_states(staging.id)[0] == "success"

    # and on to production by a manual promote of that digest, recorded as a Deployment too
    gh.set_permission("dave", "write")
    promote = act(
        repo,
        gh,
        registry,
        "workflow_dispatch",
        {
            "inputs": {"action": "promote", "digest": approved_digest, "tag": "production"},
            "ref": "refs/heads/main",
        },
        actor="dave",
    )
    assert promote.ok, promote.describe()
    [production] = [d for d in gh.state.deployments.values() if d.environment == "production"]
    assert production.payload["digest"] == approved_digest
    assert gh.deployment_states(production.id)[0] == "success"
    gh.assert_clean()


def test_gate_failure_and_fork_push_nothing(action_repo, gh, registry):
    repo, image = action_repo
    git(repo, "checkout", "--quiet", "-b", "feature")
    change(repo, "C: 1.0", "C: 0.0005")
    failing = act(repo, gh, registry, "pull_request", pr_payload(repo, gh))
    assert not failing.ok
    assert "outputs verdict=fail" in failing.output
    [check] = gh.state.check_runs.values()
    assert check["conclusion"] == "failure"

    git(repo, "checkout", "--quiet", "main")
    git(repo, "checkout", "--quiet", "-b", "fork-change")
    change(repo, "C: 1.0", "C: 0.9")
    gh.set_permission("carol", "write")
    gh.add_review(7, "carol", "APPROVED")
    fork = act(
        repo,
        gh,
        registry,
        "pull_request_review",
        pr_payload(repo, gh, author="mallory", fork=True, review="approved"),
    )
    assert fork.ok, fork.describe()
    assert "fork never gets registry credentials" in fork.output
    assert registry_tags(registry, image) == []
    gh.assert_clean()


def test_push_to_main_then_dispatch_promote(action_repo, gh, registry):
    repo, image = action_repo
    change(repo, "C: 1.0", "C: 0.8")
    head = git(repo, "rev-parse", "HEAD")
    push = act(
        repo,
        gh,
        registry,
        "push",
        {
            "ref": "refs/heads/main",
            "after": head,
            "repository": {"full_name": gh.full_name, "default_branch": "main"},
        },
    )
    assert push.ok, push.describe()
    assert head in registry_tags(registry, image)
    digest = push.output.split("digest=", 1)[1].split()[0]
    assert digest.startswith("sha256:")
    # nothing was behind `latest` yet: the first parent was the baseline
    assert "no 'latest' image in the registry yet: comparing with HEAD^1" in push.output

    # a regression pushed straight to main is compared with the model behind `latest` now,
    # fails its gate, and moves nothing
    change(repo, "C: 0.8", "C: 0.0005")
    worse = git(repo, "rev-parse", "HEAD")
    regression = act(
        repo,
        gh,
        registry,
        "push",
        {
            "ref": "refs/heads/main",
            "after": worse,
            "repository": {"full_name": gh.full_name, "default_branch": "main"},
        },
    )
    assert not regression.ok and "outputs verdict=fail digest=" in regression.output
    assert f"baseline: champion registry {registry.host}/{image}:latest" in regression.output
    assert worse not in registry_tags(registry, image)
    latest = json.loads((repo / ".mlci" / "out" / "run.json").read_text())["baseline"]
    assert latest["sha"] == digest  # the image behind latest is still the good one
    git(repo, "reset", "--quiet", "--hard", head)

    gh.set_permission("dave", "write")
    promote = act(
        repo,
        gh,
        registry,
        "workflow_dispatch",
        {
            "inputs": {"action": "promote", "digest": digest, "tag": "production"},
            "ref": "refs/heads/main",
        },
        actor="dave",
    )
    assert promote.ok, promote.describe()
    assert "production" in registry_tags(registry, image)
    # every deploying push, promote and rollback is a GitHub Deployment with its outcome
    deployments = sorted(gh.state.deployments.values(), key=lambda d: d.id)
    assert [(d.environment, d.sha) for d in deployments] == [
        ("staging", head),
        ("staging", worse),
        ("production", head),
    ]
    assert [gh.deployment_states(d.id)[0] for d in deployments] == [
        "success",
        "failure",
        "success",
    ]
    assert deployments[0].payload["digest"] == digest == deployments[2].payload["digest"]
    gh.set_permission("eve", "read")
    refused = act(
        repo,
        gh,
        registry,
        "workflow_dispatch",
        {
            "inputs": {"action": "rollback", "digest": digest, "tag": "production"},
            "ref": "refs/heads/main",
        },
        actor="eve",
    )
    assert not refused.ok and "rollback refused" in refused.output
    nothing_before = act(
        repo,
        gh,
        registry,
        "workflow_dispatch",
        {"inputs": {"action": "rollback", "tag": "production"}, "ref": "refs/heads/main"},
        actor="dave",
    )
    assert not nothing_before.ok
    assert "no earlier successful deployment to production" in nothing_before.output

    # nightly: the production model itself is re-evaluated on the current data, in its image
    nightly = act(repo, gh, registry, "schedule", {"schedule": "17 3 * * *"})
    assert nightly.ok, nightly.describe()
    assert f"champion {registry.host}/{image}:production" in nightly.output
    assert "the champion, as it is in production: not trained" in nightly.output
    assert "push decision: no" in nightly.output
    gh.assert_clean()


def test_an_attackers_pull_request_reaches_no_secret_host_or_decision(
    action_repo, gh, registry, docker_client
):
    """The untrusted-PR repro under the runner emulator: a same-repository PR whose mlci.yaml
    asks for the unsandboxed executor, the host network, every secret, a push on every PR and
    a rogue registry, and whose code dumps its environment, looks for the Docker socket and
    the runner's files, tries the network and prints workflow commands."""
    repo, image = action_repo
    git(repo, "checkout", "--quiet", "-b", "feature")
    workflow = repo / ".github" / "workflows" / "mlci.yml"
    workflow.write_text(
        workflow.read_text()
        + "      - if: always()\n"
        + "        run: ls -a /github/workflow /var/run/act/workflow 2>&1 || true\n"
    )
    with rogue_listener() as (port, received):
        poison(repo, port)
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", "innocent refactoring")
        for path in [repo, *repo.rglob("*")]:
            os.chown(path, RUNNER_UID, RUNNER_UID, follow_symlinks=False)
        attacked = act(repo, gh, registry, "pull_request", pr_payload(repo, gh))
    # (act() asserted that neither the token nor the registry password reached the log)
    assert not attacked.ok  # the attacker's model test fails
    assert "outputs verdict=fail digest=" in attacked.output
    assert received == [] and registry_tags(registry, image) == []
    assert "push decision: no: pull requests do not push" in attacked.output
    assert "pwned.txt" not in attacked.output  # the listing step: nothing written there
    out = repo / ".mlci" / "out"
    run = json.loads((out / "run.json").read_text())
    assert run["environment"]["executor"] == "docker" and run["deployment"] is None
    train_log = (out / "logs" / "train-candidate.log").read_text()
    assert "DOCKER-SOCKET False" in train_log and "NETWORK-OPEN" not in train_log
    lines = train_log.splitlines()
    assert not [line for line in lines if line.startswith(("READ ", "WROTE "))]
    assert "CANNOT-READ /var/run/act/workflow" in train_log
    dumped = json.loads(train_log.split("ENV-DUMP ", 1)[1].splitlines()[0])
    assert not [k for k in dumped if k.startswith(("INPUT_", "GITHUB_", "ACTIONS_", "RUNNER_"))]
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            text = path.read_text(errors="replace")
            assert registry.password not in text and TOKEN not in text, path
    [comment] = gh.comments_on(7)
    assert "Changes to deploy settings take effect after merge" in comment.body
    assert "This pull request changes its own gates" in comment.body
    assert registry.password not in comment.body and TOKEN not in comment.body
    # the PR's fake annotation stays text; mlci's own annotations still reach the runner
    assert "mlci model_tests failed" in attacked.output
    assert "accuracy" not in attacked.masks and "breast" not in attacked.masks
    assert "all gates passed, ship it" not in attacked.annotations()
    assert any(a.startswith("model_tests: 1 failed") for a in attacked.annotations())
    gh.assert_clean()


def test_a_new_project_from_init_gets_a_green_pr_check(
    tmp_path, action_image, docker_client, registry, gh
):
    """The first hour's last step (issue 10): CSV files, `mlci init --workflow`, a pull request,
    a green check. Two edits that only this offline machine needs: the workflow uses the local
    copy of the action (GitHub would fetch mlci/mlci), and the environment image starts from the
    local base image (no registry to pull python:3.12-slim from)."""
    from tests.datasets import penguins

    dataset = penguins(tmp_path / "repo")
    repo = dataset.project
    made = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mlci"), *dataset.init_args(), "--workflow"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    workflow = repo / ".github" / "workflows" / "mlci.yml"
    text = workflow.read_text()
    assert "uses: mlci/mlci@" in text
    workflow.write_text(text.replace("uses: mlci/mlci@main", "uses: ./.github/actions/mlci"))
    with (repo / "mlci.yaml").open("a") as config:
        config.write("\ndeploy:\n  base_image: mlci-base:bookworm\n")
    action = repo / ".github" / "actions" / "mlci"
    action.mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", action / "action.yml")
    shutil.copy(ROOT / "Dockerfile", action / "Dockerfile")
    init_repo(repo, repository=gh.full_name)
    git(repo, "checkout", "--quiet", "-b", "feature")
    config = repo / "mlci.yaml"
    config.write_text(config.read_text().replace("params: {}", "params: {max_iter: 50}"))
    git(repo, "commit", "--quiet", "-am", "fewer boosting rounds")
    for path in [repo, *repo.rglob("*")]:
        os.chown(path, RUNNER_UID, RUNNER_UID, follow_symlinks=False)
    docker_client.images.get(action_image).tag(MLCI_ACTION_ACT_TAG)

    result = act(repo, gh, registry, "pull_request", pr_payload(repo, gh), bind=False)
    assert result.ok, result.describe()
    [check] = gh.state.check_runs.values()
    assert check["conclusion"] == "success"
    [comment] = gh.comments_on(7)
    assert "pass" in comment.body and "data checks" in comment.body
