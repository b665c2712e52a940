"""The push decision of an approving review, from GitHubAPI against the GitHub double.

An approval is bound to the commit it was given on: a writer who approved commit A has not
approved commit B, which the author pushed afterwards, and no later review by anyone else
makes B's image "approved by" that writer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlci_action.config import DeployPolicy
from mlci_action.github.api import GitHubAPI
from mlci_action.github.approval import decide
from mlci_action.github.context import ActionInputs, Event, PullRequest
from tests.github.api_double import GitHubDouble

TOKEN = "ghs_approvalTestToken0123456789abcdef"
REPO = "octo-org/models"
A = "1a2b3c4d5e6f" + "0" * 28  # the commit carol approved
B = "9f8e7d6c5b4a" + "1" * 28  # the commit the author pushed after it


@pytest.fixture
def gh() -> Iterator[GitHubDouble]:
    with GitHubDouble(token=TOKEN) as double:
        double.add_pull(7, author="alice", head_sha=A)
        for user, role in [("alice", "admin"), ("bob", "write"), ("carol", "maintain")]:
            double.set_permission(user, role)
        double.set_permission("dave", "read")
        yield double


def review_event(head: str, reviewer: str, author: str = "alice") -> Event:
    """A pull_request_review event whose review approved; its payload names the head."""
    return Event(
        name="pull_request_review",
        repository=REPO,
        sha="e" * 40,  # a merge ref's commit: never the one approvals are checked against
        ref="refs/pull/7/merge",
        actor=reviewer,
        default_branch="main",
        pull_request=PullRequest(
            number=7,
            author=author,
            head_sha=head,
            head_ref="feature",
            base_ref="main",
            base_sha="b" * 40,
            is_fork=False,
        ),
        review_state="approved",
        reviewer=reviewer,
    )


def decide_review(api: GitHubAPI, head: str, reviewer: str, required: int = 1):
    policy = DeployPolicy(required_approvals=required)
    return decide(review_event(head, reviewer), policy, ActionInputs(), api)


def test_a_stale_approval_does_not_ship_the_commit_pushed_after_it(gh, api):
    gh.add_review(7, "carol", "APPROVED")  # carol (maintain) approves A
    gh.push_head(7, B)  # the author pushes B
    gh.add_review(7, "dave", "APPROVED")  # dave (read) approves B: the event fires on B

    decision = decide_review(api, B, "dave")

    assert not decision.push
    assert decision.approvers == () and decision.approved_commit is None
    assert decision.reason == (
        "0 of 1 required approvals by writers other than the author on the head 9f8e7d6c5b4a "
        "(carol approved 1a2b3c4d5e6f, not the head 9f8e7d6c5b4a)"
    )
    gh.assert_clean()


def test_a_fresh_writer_approval_of_the_head_ships_it(gh, api):
    gh.add_review(7, "carol", "APPROVED")
    gh.push_head(7, B)
    gh.add_review(7, "dave", "APPROVED")
    gh.add_review(7, "bob", "APPROVED")  # bob (write) approves B

    decision = decide_review(api, B, "bob")

    assert decision.push
    assert decision.approvers == ("bob",)
    assert decision.approved_commit == B
    assert decision.reason == "approved by bob on 9f8e7d6c5b4a (1 of 1 required)"
    gh.assert_clean()


def test_the_authors_own_approval_does_not_count(gh, api):
    gh.add_review(7, "alice", "APPROVED")  # alice, the author, is an admin

    decision = decide_review(api, A, "alice")

    assert not decision.push and decision.approvers == ()
    assert decision.reason == (
        "0 of 1 required approvals by writers other than the author on the head 1a2b3c4d5e6f"
    )
    gh.assert_clean()


def test_changes_requested_after_an_approval_withdraws_it(gh, api):
    gh.add_review(7, "carol", "APPROVED")
    gh.add_review(7, "carol", "COMMENTED")  # a comment leaves the approval standing
    assert decide_review(api, A, "carol").approvers == ("carol",)

    gh.add_review(7, "carol", "CHANGES_REQUESTED")
    gh.add_review(7, "dave", "APPROVED")

    decision = decide_review(api, A, "dave")
    assert not decision.push and decision.approvers == ()
    assert "carol" not in decision.reason
    gh.assert_clean()


def test_a_dismissed_approval_does_not_count(gh, api):
    gh.dismiss_review(gh.add_review(7, "carol", "APPROVED"))

    decision = decide_review(api, A, "carol")

    assert not decision.push and decision.approvers == ()
    gh.assert_clean()


def test_two_required_approvals_need_two_writers_on_the_head(gh, api):
    gh.add_review(7, "bob", "APPROVED")  # bob approves A
    gh.push_head(7, B)
    gh.add_review(7, "carol", "APPROVED")
    gh.add_review(7, "carol", "APPROVED")  # the same writer twice is one approval
    gh.add_review(7, "dave", "APPROVED")  # a reader is none

    decision = decide_review(api, B, "dave", required=2)
    assert not decision.push and decision.approvers == ("carol",)
    assert "1 of 2 required" in decision.reason
    assert "bob approved 1a2b3c4d5e6f, not the head 9f8e7d6c5b4a" in decision.reason

    gh.add_review(7, "bob", "APPROVED")  # bob approves B too

    decision = decide_review(api, B, "bob", required=2)
    assert decision.push
    assert decision.approvers == ("carol", "bob") and decision.approved_commit == B
    assert "2 of 2 required" in decision.reason
    gh.assert_clean()


def test_approvals_are_checked_against_the_events_head(gh, api):
    """decide() names the commit it approved; that the workspace holds that very commit (and
    not a later push's merge ref) is for the action to check before it pushes."""
    gh.add_review(7, "carol", "APPROVED")  # on A
    gh.push_head(7, B)  # pushed while the review's workflow was queued

    decision = decide_review(api, A, "carol")

    assert decision.push and decision.approved_commit == A
    gh.assert_clean()
