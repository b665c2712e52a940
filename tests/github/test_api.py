"""GitHubAPI (PyGithub) against the spec-checked GitHub double of api_double.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from mlci_action.github.api import GitHubAPI, GitHubError
from tests.github.api_double import GitHubDouble

TOKEN = "ghs_s3cr3tT0kenValue0123456789abcdef"
SHA = "c0ffee" + "0" * 34
MARKER = "<!-- mlci:model=churn -->"
REPO = "octo-org/models"


@pytest.fixture
def gh() -> Iterator[GitHubDouble]:
    with GitHubDouble(token=TOKEN) as double:
        double.add_pull(7, author="alice", head_sha=SHA)
        yield double


def test_two_upserts_leave_one_comment_with_the_latest_body(gh, api):
    first = api.upsert_comment(7, MARKER, f"{MARKER}\nfirst run")
    second = api.upsert_comment(7, MARKER, f"{MARKER}\nsecond run")

    assert first.created and not second.created
    assert first.id == second.id
    assert second.url.endswith(f"#issuecomment-{first.id}")
    [comment] = gh.comments_on(7)
    assert comment.body == f"{MARKER}\nsecond run"
    assert comment.user == "github-actions[bot]"
    assert gh.requests_to("GET", r"^/user$") == []  # an installation token cannot ask
    assert len(gh.requests_to("POST", r"/issues/7/comments$")) == 1
    assert len(gh.requests_to("PATCH", r"/issues/comments/\d+$")) == 1
    gh.assert_clean()


def test_upsert_finds_the_marker_past_the_first_page(gh, api):
    for i in range(130):
        gh.add_comment(7, "someone", f"chatter {i}")
    gh.add_comment(7, "github-actions[bot]", f"{MARKER}\nold")

    result = api.upsert_comment(7, MARKER, f"{MARKER}\nnew")

    assert not result.created
    assert gh.comments_on(7)[-1].body == f"{MARKER}\nnew"
    assert len(gh.requests_to("GET", r"/issues/7/comments$")) == 2  # 100 a page
    gh.assert_clean()


def test_upsert_leaves_a_marker_quoted_by_someone_else_when_the_login_is_known():
    pat = "ghp_personalAccessToken0123456789"  # not an installation token: GET /user works
    with GitHubDouble(token=pat, token_user="mlci-bot") as gh:
        gh.add_pull(7, author="alice", head_sha=SHA)
        quoted = gh.add_comment(7, "mallory", f"look: {MARKER}")
        api = GitHubAPI(
            pat, REPO, base_url=gh.url, seconds_between_requests=0, seconds_between_writes=0
        )

        result = api.upsert_comment(7, MARKER, f"{MARKER}\nreport")

        assert result.created
        assert gh.state.comments[quoted].body == f"look: {MARKER}"
        assert gh.comments_on(7)[-1].user == "mlci-bot"
        assert len(gh.requests_to("GET", r"^/user$")) == 1
        gh.assert_clean()


def test_check_run_is_created_with_the_conclusion(gh, api):
    kind = api.report_check(SHA, "mlci · churn", "failure", "AUC fell", "x" * 70_000)

    assert kind == "check-run"
    [run] = gh.state.check_runs.values()
    assert (run["name"], run["head_sha"], run["status"], run["conclusion"]) == (
        "mlci · churn",
        SHA,
        "completed",
        "failure",
    )
    assert len(run["output"]["summary"]) == 65_535
    assert gh.state.statuses == []
    gh.assert_clean()


def test_falls_back_to_a_commit_status_when_check_runs_are_forbidden(gh, api):
    gh.set_check_runs_forbidden()

    kind = api.report_check(SHA, "mlci · churn", "success", "t" * 300, "all good")

    assert kind == "status"
    assert len(gh.requests_to("POST", r"/check-runs$")) == 1  # a 403 that is no rate limit
    [status] = gh.state.statuses
    assert status["sha"] == SHA
    assert status["state"] == "success"
    assert status["context"] == "mlci · churn"
    assert len(status["description"]) == 140
    assert gh.state.check_runs == {}
    gh.assert_clean()


def test_approvals_count_writers_other_than_the_author_by_their_latest_review(gh, api):
    for user, role in [("bob", "write"), ("carol", "maintain"), ("dave", "read")]:
        gh.set_permission(user, role)
    gh.set_permission("alice", "admin")
    gh.set_permission("erin", "admin")
    gh.add_review(7, "alice", "APPROVED")  # the author
    gh.add_review(7, "bob", "APPROVED")
    gh.add_review(7, "carol", "CHANGES_REQUESTED")
    gh.add_review(7, "carol", "APPROVED")
    gh.add_review(7, "bob", "COMMENTED")  # a comment does not withdraw bob's approval
    gh.add_review(7, "dave", "APPROVED")  # read-only
    gh.add_review(7, "erin", "APPROVED")
    gh.add_review(7, "erin", "CHANGES_REQUESTED")  # later change request overrides

    approved = api.approvals(7, "alice", SHA)
    assert sorted(a.login for a in approved) == ["bob", "carol"]
    assert {a.commit_id for a in approved} == {SHA}
    [bobs] = [a for a in approved if a.login == "bob"]
    assert bobs.review_id == gh.state.reviews[1].id and bobs.submitted_at is not None
    assert api.permission("carol") == "maintain"
    assert api.permission("nobody") == "none"
    gh.assert_clean()


def test_an_approval_counts_only_for_the_commit_it_was_given_on(gh, api):
    older = "a" * 40
    for user in ("bob", "carol", "dave"):
        gh.set_permission(user, "write")
    gh.add_review(7, "bob", "APPROVED", commit_id=older)  # bob's latest word, on an old commit
    gh.add_review(7, "carol", "APPROVED", commit_id=older)
    gh.add_review(7, "carol", "APPROVED")  # carol approved again on the head
    gh.add_review(7, "dave", "APPROVED")
    gh.add_review(7, "dave", "COMMENTED", commit_id=older)  # a comment changes nothing

    assert [a.login for a in api.approvals(7, "alice", SHA)] == ["carol", "dave"]
    assert api.approvals(7, "alice", SHA.upper())[0].login == "carol"
    assert [a.login for a in api.approvals(7, "alice", older)] == ["bob"]
    assert api.approvals(7, "alice", "") == []
    assert [(a.login, a.commit_id) for a in api.standing_approvals(7, "alice")] == [
        ("bob", older),
        ("carol", SHA),
        ("dave", SHA),
    ]
    gh.assert_clean()


def test_a_dismissed_approval_does_not_count(gh, api):
    gh.set_permission("bob", "write")
    gh.dismiss_review(gh.add_review(7, "bob", "APPROVED"))

    assert api.approvals(7, "alice", SHA) == []
    gh.assert_clean()


def test_pull_reads_author_head_and_fork(gh, api):
    gh.add_pull(8, author="eve", head_sha="f" * 40, base_ref="main", head_repo_fork=True)

    own, fork = api.pull(7), api.pull(8)

    assert (own.author, own.head_sha, own.base_ref, own.is_fork) == ("alice", SHA, "main", False)
    assert own.head_repo_full_name == REPO
    assert fork.is_fork and fork.head_repo_full_name != REPO
    gh.assert_clean()


def test_a_502_is_retried(gh, api):
    gh.fail_next("POST", r"/check-runs$", 502, body={"message": "Server Error"})

    assert api.report_check(SHA, "mlci", "success", "ok", "ok") == "check-run"

    assert len(gh.requests_to("POST", r"/check-runs$")) == 2
    assert len(gh.requests_to("GET", rf"/commits/{SHA}/check-runs$")) == 1  # looked first
    assert len(gh.state.check_runs) == 1
    gh.assert_clean()


def test_a_check_run_created_despite_a_502_is_not_created_twice(gh, api):
    # same name, another run's (say, the run before a re-run)
    gh.add_check_run(SHA, "mlci", external_id="someone-elses", conclusion="success")
    gh.fail_next("POST", r"/check-runs$", 502, processed=True)

    assert api.report_check(SHA, "mlci", "failure", "gate failed", "table") == "check-run"

    assert len(gh.requests_to("POST", r"/check-runs$")) == 1
    assert len(gh.state.check_runs) == 2
    assert sorted(r["conclusion"] for r in gh.state.check_runs.values()) == ["failure", "success"]
    gh.assert_clean()


@pytest.mark.parametrize("processed", [True, False], ids=["created-then-502", "refused-502"])
def test_a_comment_post_answered_502_leaves_exactly_one_comment(gh, api, processed):
    """GitHub may create the comment and still answer 502: a blind retry would post twice."""
    gh.fail_next("POST", r"/issues/7/comments$", 502, processed=processed)

    result = api.upsert_comment(7, MARKER, f"{MARKER}\nrun")

    [comment] = gh.comments_on(7)
    assert (comment.id, comment.body) == (result.id, f"{MARKER}\nrun") and result.created
    assert len(gh.requests_to("POST", r"/issues/7/comments$")) == (1 if processed else 2)
    assert len(gh.requests_to("GET", r"/issues/7/comments$")) == 2  # a look before each try
    gh.assert_clean()


def test_a_comment_post_that_keeps_failing_ends_in_a_github_error(gh, api):
    gh.fail_next("POST", r"/issues/7/comments$", 500, times=5)
    with pytest.raises(GitHubError) as caught:
        api.upsert_comment(7, MARKER, f"{MARKER}\nrun")
    assert caught.value.status == 500
    assert len(gh.requests_to("POST", r"/issues/7/comments$")) == 3
    assert gh.comments_on(7) == []


def test_a_secondary_rate_limit_is_waited_out_per_retry_after(gh, api):
    gh.fail_next(
        "GET",
        r"/issues/7/comments$",
        403,
        headers={"Retry-After": "1"},
        body={
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
            "before you try again.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        },
    )
    gh.fail_next("PATCH", r"/issues/comments/\d+$", 429, headers={"Retry-After": "1"})
    gh.add_comment(7, "github-actions[bot]", f"{MARKER}\nold")

    started = time.monotonic()
    result = api.upsert_comment(7, MARKER, f"{MARKER}\nnew")

    assert time.monotonic() - started >= 2  # two Retry-After: 1
    assert not result.created
    assert len(gh.requests_to("GET", r"/issues/7/comments$")) == 2
    assert len(gh.requests_to("PATCH", r"/issues/comments/\d+$")) == 2
    assert gh.comments_on(7)[0].body == f"{MARKER}\nnew"
    gh.assert_clean()


def test_retries_are_bounded_and_end_in_a_github_error(gh):
    gh.fail_next("GET", r"/pulls/7$", 503, times=10)
    api = GitHubAPI(TOKEN, REPO, base_url=gh.url, retries=1, seconds_between_requests=0)

    with pytest.raises(GitHubError) as caught:
        api.pull(7)

    assert caught.value.status == 503
    assert len(gh.requests_to("GET", r"/pulls/7$")) == 2


def test_the_token_never_appears_in_a_github_error(gh):
    gh.fail_next("GET", r"/pulls/7$", 422, body={"message": f"bad token {TOKEN} here"})
    api = GitHubAPI(TOKEN, REPO, base_url=gh.url, retries=0)
    with pytest.raises(GitHubError) as caught:
        api.pull(7)
    assert TOKEN not in str(caught.value) and "***" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__

    wrong = GitHubAPI("ghs_wrong_" + TOKEN, REPO, base_url=gh.url, retries=0)
    with pytest.raises(GitHubError) as caught:
        wrong.pull(7)
    assert caught.value.status == 401 and TOKEN not in str(caught.value)

    unreachable = GitHubAPI(TOKEN, REPO, base_url="http://127.0.0.1:9", retries=0)
    with pytest.raises(GitHubError) as caught:
        unreachable.upsert_comment(7, MARKER, "x")
    assert "unreachable" in str(caught.value) and TOKEN not in str(caught.value)


def test_the_double_rejects_a_request_github_would_reject(gh):
    response = requests.post(
        f"{gh.url}/repos/{REPO}/issues/7/comments",
        json={"text": "no body field"},
        headers={"Authorization": f"token {TOKEN}"},
    )

    assert response.status_code == 422
    assert any("'body' is a required property" in v for v in gh.violations)
    with pytest.raises(AssertionError):
        gh.assert_clean()


def test_the_double_flags_unknown_endpoints_and_bad_responses(gh):
    auth = {"Authorization": f"token {TOKEN}"}
    assert requests.get(f"{gh.url}/repos/{REPO}/no-such-thing", headers=auth).status_code == 404
    gh.fail_next("POST", r"/check-runs$", 201, body={"id": 1})  # not a check run
    requests.post(
        f"{gh.url}/repos/{REPO}/check-runs", json={"name": "n", "head_sha": SHA}, headers=auth
    )

    assert any("no such operation" in v for v in gh.violations)
    assert any("response 201" in v and "'node_id' is a required" in v for v in gh.violations)


def make_api(gh: GitHubDouble, token: str = TOKEN, **options) -> GitHubAPI:
    return GitHubAPI(
        token,
        REPO,
        base_url=gh.url,
        seconds_between_requests=0,
        seconds_between_writes=0,
        **options,
    )


def test_a_user_comment_with_the_marker_is_never_taken_for_mlcis(gh, api):
    """Were mlci to edit it, its author could later edit the report into a fake pass."""
    planted = gh.add_comment(7, "mallory", f"{MARKER}\n## ✅ pass")

    first = api.upsert_comment(7, MARKER, f"{MARKER}\nfirst run")
    second = api.upsert_comment(7, MARKER, f"{MARKER}\nsecond run")

    assert first.created and first.id != planted
    assert not second.created and second.id == first.id
    mallorys, mlcis = gh.comments_on(7)
    assert (mallorys.id, mallorys.user, mallorys.body) == (
        planted,
        "mallory",
        f"{MARKER}\n## ✅ pass",
    )
    assert mallorys.updated_at == mallorys.created_at
    assert (mlcis.id, mlcis.user, mlcis.body) == (
        first.id,
        "github-actions[bot]",
        f"{MARKER}\nsecond run",
    )
    [edit] = gh.requests_to("PATCH", r"/issues/comments/\d+$")
    assert edit.path.endswith(f"/{first.id}")
    assert gh.requests_to("DELETE", r"") == []
    assert api.identity == "github-actions[bot]"
    assert gh.requests_to("GET", r"^/user$") == []
    gh.assert_clean()


def test_another_apps_installation_token_takes_only_its_own_bots_comment():
    with GitHubDouble(token=TOKEN, app_slug="my-app") as gh:
        gh.add_pull(7, author="alice", head_sha=SHA)
        actions = gh.add_comment(7, "github-actions[bot]", f"{MARKER}\nanother workflow's")
        mine = gh.add_comment(7, "my-app[bot]", f"{MARKER}\nold")
        api = make_api(gh, app_slug="my-app")

        result = api.upsert_comment(7, MARKER, f"{MARKER}\nnew")

        assert api.identity == "my-app[bot]"
        assert (result.id, result.created) == (mine, False)
        assert gh.state.comments[actions].body == f"{MARKER}\nanother workflow's"
        assert gh.state.comments[mine].body == f"{MARKER}\nnew"
        assert gh.requests_to("GET", r"^/user$") == []  # the app slug is the caller's word
        gh.assert_clean()


def test_the_default_app_is_github_actions_so_another_apps_bot_comment_is_not_taken(gh, api):
    other = gh.add_comment(7, "my-app[bot]", f"{MARKER}\nold")

    result = api.upsert_comment(7, MARKER, f"{MARKER}\nnew")

    assert result.created and result.id != other
    assert gh.state.comments[other].body == f"{MARKER}\nold"
    gh.assert_clean()


@pytest.mark.parametrize("slug", ["My-App", "my-app[bot]", "my app", "-app", ""])
def test_a_bad_app_slug_is_refused(gh, slug):
    with pytest.raises(GitHubError, match="app slug"):
        make_api(gh, app_slug=slug)


def test_a_user_token_edits_only_its_users_comment():
    pat = "ghp_personalAccessToken0123456789"
    with GitHubDouble(token=pat, token_user="mlci-bot") as gh:
        gh.add_pull(7, author="alice", head_sha=SHA)
        by_actions = gh.add_comment(7, "github-actions[bot]", f"{MARKER}\nan Actions token's")
        by_mallory = gh.add_comment(7, "mallory", f"{MARKER}\nmallory's")
        mine = gh.add_comment(7, "mlci-bot", f"{MARKER}\nold")
        api = make_api(gh, pat, app_slug="ignored-for-a-user-token")

        result = api.upsert_comment(7, MARKER, f"{MARKER}\nnew")
        assert api.identity == "mlci-bot"

        assert (result.id, result.created) == (mine, False)
        assert gh.state.comments[mine].body == f"{MARKER}\nnew"
        assert gh.state.comments[by_actions].body == f"{MARKER}\nan Actions token's"
        assert gh.state.comments[by_mallory].body == f"{MARKER}\nmallory's"
        assert len(gh.requests_to("GET", r"^/user$")) == 1  # asked once, remembered
        gh.assert_clean()


def test_a_user_token_that_cannot_tell_who_it_is_never_edits():
    token = "ghp_cannotReadItsOwnAccount0123456789"
    with GitHubDouble(token=token, token_user="mlci-bot", user_refused=True) as gh:
        gh.add_pull(7, author="alice", head_sha=SHA)
        old = gh.add_comment(7, "mlci-bot", f"{MARKER}\nold")
        planted = gh.add_comment(7, "mallory", f"{MARKER}\nmallory's")
        api = make_api(gh, token)

        assert api.identity is None
        result = api.upsert_comment(7, MARKER, f"{MARKER}\nnew")

        assert result.created and result.id not in (old, planted)
        assert [c.body for c in gh.comments_on(7)] == [
            f"{MARKER}\nold",
            f"{MARKER}\nmallory's",
            f"{MARKER}\nnew",
        ]
        assert gh.requests_to("PATCH", r"/issues/comments/") == []
        assert len(gh.requests_to("GET", r"^/user$")) == 1
        gh.assert_clean()


def test_a_user_token_reports_a_commit_status_as_github_refuses_it_check_runs():
    pat = "ghp_personalAccessToken0123456789"
    with GitHubDouble(token=pat, token_user="mlci-bot") as gh:
        gh.add_pull(7, author="alice", head_sha=SHA)
        api = make_api(gh, pat)

        assert api.report_check(SHA, "mlci", "success", "ok", "ok") == "status"

        assert gh.state.check_runs == {}
        [status] = gh.state.statuses
        assert status["context"] == "mlci"
        gh.assert_clean()


@pytest.mark.parametrize("processed", [True, False], ids=["created-then-502", "refused-502"])
def test_a_run_with_mlcis_external_id_from_another_app_is_not_taken_as_mlcis(
    gh, api, monkeypatch, processed
):
    mine = "mlci-" + "5" * 32
    monkeypatch.setattr("mlci_action.github.api.creates.external_id", lambda: mine)
    forged = gh.add_check_run(
        SHA, "mlci", app_slug="forger", external_id=mine, status="completed", conclusion="success"
    )
    gh.fail_next("POST", r"/check-runs$", 502, processed=processed)

    assert api.report_check(SHA, "mlci", "failure", "gate failed", "table") == "check-run"

    # refused: the forged run does not count as the create having happened, so mlci creates
    # again; created: mlci finds its own run, not only the forged one, and stops there
    assert len(gh.requests_to("POST", r"/check-runs$")) == (1 if processed else 2)
    assert len(gh.requests_to("GET", rf"/commits/{SHA}/check-runs$")) == 1
    ours = [i for i, app in gh.state.check_run_apps.items() if app == "github-actions"]
    assert len(ours) == 1 and gh.state.check_runs[ours[0]]["conclusion"] == "failure"
    assert gh.state.check_runs[ours[0]]["external_id"] == mine
    assert gh.state.check_runs[forged]["conclusion"] == "success"  # left as it was
    gh.assert_clean()


def test_an_app_slugs_own_run_is_found_after_a_processed_502():
    with GitHubDouble(token=TOKEN, app_slug="my-app") as gh:
        gh.add_pull(7, author="alice", head_sha=SHA)
        api = make_api(gh, app_slug="my-app")
        gh.fail_next("POST", r"/check-runs$", 502, processed=True)

        assert api.report_check(SHA, "mlci", "success", "ok", "ok") == "check-run"

        assert len(gh.requests_to("POST", r"/check-runs$")) == 1  # its own run was found
        assert list(gh.state.check_run_apps.values()) == ["my-app"]
        gh.assert_clean()


def test_a_comment_author_must_match_login_and_type():
    from types import SimpleNamespace

    from mlci_action.github.api.base import authored_by as _authored_by

    me = ("github-actions[bot]", "Bot")
    assert _authored_by(SimpleNamespace(login="github-actions[bot]", type="Bot"), me)
    assert not _authored_by(SimpleNamespace(login="github-actions[bot]", type="User"), me)
    assert not _authored_by(SimpleNamespace(login="github-actions", type="Bot"), me)
    assert not _authored_by(None, me)
    assert _authored_by(SimpleNamespace(login="mlci-bot", type="User"), ("mlci-bot", ""))
