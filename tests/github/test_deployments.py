"""GitHub Deployments through GitHubAPI, against the spec-checked GitHub double."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mlci_action.github.api import DEPLOYMENT_MARKER, GitHubAPI, GitHubError
from tests.github.api_double import GitHubDouble

TOKEN = "ghs_deploymentsTestToken0123456789abcdef"
REPO = "octo-org/models"
SHA1, SHA2, SHA3 = ("1" * 40, "2" * 40, "3" * 40)
D1, D2, D3 = ("sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64)
DEPLOYMENTS = r"/deployments$"
STATUSES = r"/deployments/\d+/statuses$"


@pytest.fixture
def gh() -> Iterator[GitHubDouble]:
    with GitHubDouble(token=TOKEN) as double:
        double.add_pull(7, author="alice", head_sha=SHA1)
        yield double


def deploy(api: GitHubAPI, sha: str, digest: str, state="success", environment="production"):
    """What mlci does after a push: a deployment of the image, then its outcome."""
    deployment_id = api.create_deployment(
        sha, environment, {"digest": digest, "image": f"ghcr.io/o/m@{digest}"}, "mlci push"
    )
    api.set_deployment_status(
        deployment_id,
        state,
        f"{digest[:19]} {state}",
        environment_url="https://models.example.com/",
        log_url="https://github.com/octo-org/models/actions/runs/1",
    )
    return deployment_id


def test_a_deployment_is_created_without_merging_or_waiting_and_listed_with_its_state(gh, api):
    gh.add_check_run(SHA1, "other-ci", conclusion="failure")
    gh.state.statuses.append({"sha": SHA1, "context": "ci/slow", "state": "pending"})

    first = deploy(api, SHA1, D1)

    [create] = gh.requests_to("POST", DEPLOYMENTS)
    assert create.json["ref"] == SHA1 and create.json["environment"] == "production"
    assert create.json["auto_merge"] is False
    assert create.json["required_contexts"] == []  # a pending status does not hold it back
    assert create.json["transient_environment"] is False
    assert create.json["production_environment"] is True
    assert create.json["description"] == "mlci push"
    assert create.json["payload"]["digest"] == D1
    [status] = gh.requests_to("POST", STATUSES)
    assert status.json["state"] == "success"
    assert status.json["environment_url"] == "https://models.example.com/"
    assert status.json["log_url"].endswith("/actions/runs/1")
    second = api.create_deployment(SHA2, "production", {"digest": D2}, "mlci push")
    api.set_deployment_status(second, "in_progress", "deploying")

    listed = api.deployments("production")

    assert [d.id for d in listed] == [second, first]  # newest first
    assert [d.state for d in listed] == ["in_progress", "success"]
    assert (listed[1].sha, listed[1].ref, listed[1].environment) == (SHA1, SHA1, "production")
    assert listed[1].payload == {"digest": D1, "image": f"ghcr.io/o/m@{D1}"}  # no marker
    assert listed[1].digest == D1 and listed[1].succeeded
    assert listed[1].created_at is not None
    assert api.deployments("staging") == []
    gh.assert_clean()


def test_a_staging_deployment_is_not_a_production_environment(gh, api):
    api.create_deployment(SHA1, "staging", {"digest": D1}, "mlci push")

    [create] = gh.requests_to("POST", DEPLOYMENTS)
    assert create.json["production_environment"] is False
    gh.assert_clean()


def test_a_second_success_makes_the_first_inactive(gh, api):
    first = deploy(api, SHA1, D1)
    second = deploy(api, SHA2, D2)
    staging = deploy(api, SHA2, D2, environment="staging")

    assert gh.deployment_states(first) == ["inactive", "success"]
    assert gh.deployment_states(second) == ["success"]
    assert gh.deployment_states(staging) == ["success"]  # another environment: untouched
    listed = api.deployments("production")
    assert [(d.id, d.state, d.succeeded) for d in listed] == [
        (second, "success", True),
        (first, "inactive", True),
    ]
    gh.assert_clean()


def test_a_failed_deployment_leaves_the_live_one_active(gh, api):
    first = deploy(api, SHA1, D1)
    failed = deploy(api, SHA2, D2, state="failure")

    assert gh.deployment_states(first) == ["success"]
    assert [(d.id, d.state, d.succeeded) for d in api.deployments("production")] == [
        (failed, "failure", False),
        (first, "success", True),
    ]
    gh.assert_clean()


def test_previous_successful_is_the_newest_other_digest_that_succeeded(gh, api):
    assert api.previous_successful("production") is None
    first = deploy(api, SHA1, D1)
    assert api.previous_successful("production") is None  # only the live one
    second = deploy(api, SHA2, D2)
    deploy(api, SHA3, D3, state="failure")  # never live: not a target

    target = api.previous_successful("production")
    assert target is not None and (target.id, target.digest, target.sha) == (first, D1, SHA1)
    target = api.previous_successful("production", before_digest=D1)
    assert target is not None and target.id == second

    rollback = deploy(api, SHA1, D1)  # the rollback is a new deployment of D1
    target = api.previous_successful("production")
    assert target is not None and target.id == second  # back from D1 is D2
    assert api.previous_successful("production", before_digest=D2).id == rollback
    assert api.previous_successful("staging") is None
    gh.assert_clean()


def test_previous_successful_without_auto_inactive_and_with_other_tools_deployments(gh, api):
    """Another tool's deployments may keep reading success, or name no digest at all."""
    old = gh.add_deployment(SHA1, "production", {"digest": D1})
    gh.add_deployment_status(old, "success")
    live = gh.add_deployment(SHA2, "production", {"digest": D2})
    gh.add_deployment_status(live, "success", auto_inactive=False)  # old still reads success
    foreign = gh.add_deployment(SHA3, "production", '{"deploy": "migrate"}')  # a string
    gh.add_deployment_status(foreign, "success", auto_inactive=False)

    assert gh.deployment_states(old) == ["success"]
    listed = api.deployments("production")
    assert [(d.id, d.digest) for d in listed] == [(foreign, None), (live, D2), (old, D1)]
    assert listed[0].payload == {}
    target = api.previous_successful("production")
    assert target is not None and target.id == old
    gh.assert_clean()


@pytest.mark.parametrize("processed", [True, False], ids=["created-then-502", "refused-502"])
def test_a_create_answered_502_leaves_exactly_one_deployment(gh, api, processed):
    gh.fail_next("POST", DEPLOYMENTS, 502, processed=processed)

    made = api.create_deployment(SHA1, "production", {"digest": D1}, "mlci push")

    [deployment] = gh.state.deployments.values()
    assert deployment.id == made and deployment.payload["digest"] == D1
    assert len(gh.requests_to("POST", DEPLOYMENTS)) == (1 if processed else 2)
    [look] = gh.requests_to("GET", DEPLOYMENTS)  # a look before the second try
    assert look.query["environment"] == ["production"]
    gh.assert_clean()


def test_a_deployment_with_mlcis_marker_by_someone_else_is_not_taken_as_mlcis(gh, api, monkeypatch):
    mine = "mlci-" + "5" * 32
    monkeypatch.setattr("mlci_action.github.api.creates.external_id", lambda: mine)
    forged = gh.add_deployment(SHA2, "production", {DEPLOYMENT_MARKER: mine}, creator="mallory")
    gh.fail_next("POST", DEPLOYMENTS, 502)  # refused: nothing was created

    made = api.create_deployment(SHA1, "production", {"digest": D1}, "mlci push")

    assert made != forged
    assert gh.state.deployments[made].creator == "github-actions[bot]"
    assert len(gh.requests_to("POST", DEPLOYMENTS)) == 2
    gh.assert_clean()


def test_a_status_answered_502_after_it_was_set_is_not_set_twice(gh, api):
    made = api.create_deployment(SHA1, "production", {"digest": D1}, "mlci push")
    gh.fail_next("POST", STATUSES, 502, processed=True)

    api.set_deployment_status(made, "success", "x" * 200)

    assert gh.deployment_states(made) == ["success"]
    [status] = gh.state.deployment_statuses
    assert len(status.description) == 140
    assert len(gh.requests_to("POST", STATUSES)) == 1
    gh.assert_clean()


def test_a_token_without_deployments_write_gets_a_clear_github_error(gh, api):
    gh.set_deployments_forbidden()

    with pytest.raises(GitHubError) as caught:
        api.create_deployment(SHA1, "production", {"digest": D1}, "mlci push")

    error = caught.value
    assert error.status == 403
    assert str(error) == (
        f"GitHub API error creating a deployment of {SHA1} to production: 403 Resource not "
        "accessible by integration (the token needs `deployments: write`: add it to the "
        "workflow's `permissions:`, or to the GitHub App's)"
    )
    assert TOKEN not in str(error) and error.__cause__ is None and error.__suppress_context__
    assert len(gh.requests_to("POST", DEPLOYMENTS)) == 1  # a refusal is not retried
    assert gh.state.deployments == {}

    existing = gh.add_deployment(SHA1, "production", {"digest": D1})
    with pytest.raises(GitHubError, match="deployments: write") as caught:
        api.set_deployment_status(existing, "success", "done")
    assert caught.value.status == 403 and TOKEN not in str(caught.value)
    gh.assert_clean()


def test_the_token_is_scrubbed_from_a_deployment_error(gh, api):
    gh.fail_next("POST", DEPLOYMENTS, 422, body={"message": f"bad {TOKEN} here"})

    with pytest.raises(GitHubError) as caught:
        api.create_deployment("no-such-branch", "production", {}, "mlci push")

    assert caught.value.status == 422
    assert TOKEN not in str(caught.value) and "***" in str(caught.value)


def test_the_double_refuses_an_unknown_ref_and_failing_statuses_when_contexts_are_checked(gh):
    auth = {"Authorization": f"token {TOKEN}"}
    url = f"{gh.url}/repos/{REPO}/deployments"
    gh.state.statuses.append({"sha": SHA1, "context": "ci", "state": "failure"})
    gh.set_branch("main", SHA2)

    assert requests.post(url, json={"ref": "nope"}, headers=auth).status_code == 422
    assert requests.post(url, json={"ref": SHA1}, headers=auth).status_code == 409
    made = requests.post(url, json={"ref": "main", "environment": "qa"}, headers=auth)
    assert made.status_code == 201 and made.json()["sha"] == SHA2
    assert made.json()["production_environment"] is False
    feature = requests.post(url, json={"ref": "feature", "required_contexts": []}, headers=auth)
    assert feature.status_code == 201 and feature.json()["sha"] == SHA1  # PR 7's head branch
    gh.assert_clean()
