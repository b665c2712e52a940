"""Approval: whether this event may push the image of a passing run, under the deploy policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mlci_action.config import DeployPolicy
from mlci_action.github.context import ActionInputs, Event, PullRequest

if TYPE_CHECKING:  # the action imports PyGithub only once it has a token
    from mlci_action.github.api import Approval

WRITERS = ("admin", "maintain", "write")
SHORT_SHA = 12


class Approvals(Protocol):
    """What :func:`decide` asks GitHub; :class:`~mlci_action.github.api.GitHubAPI` answers."""

    def standing_approvals(self, pr_number: int, author: str) -> Sequence[Approval]: ...

    def permission(self, user: str) -> str: ...


@dataclass(frozen=True)
class Decision:
    """Whether to push, and why. For an approving review: who approved (``approvers``) which
    commit (``approved_commit``, the pull request's head the run builds); empty otherwise."""

    push: bool
    reason: str
    approvers: tuple[str, ...] = ()
    approved_commit: str | None = None


def decide(
    event: Event, policy: DeployPolicy, inputs: ActionInputs, api: Approvals | None
) -> Decision:
    """The push decision before the run; the run itself still needs a pass verdict to push."""
    if inputs.push == "never":
        return Decision(False, "the push input is `never`")
    pr = event.pull_request
    if pr is not None and pr.is_fork:
        return Decision(
            False, "a pull request from a fork never gets registry credentials or a push"
        )
    if event.name == "push":
        branches = {*policy.on_push_to, *([event.default_branch] if event.default_branch else [])}
        if event.branch in branches:
            return Decision(True, f"push to {event.branch}")
        return Decision(
            False, f"push to {event.branch or event.ref}, not one of {', '.join(sorted(branches))}"
        )
    if event.name == "pull_request_review":
        if pr is None or event.review_state != "approved":
            return Decision(False, "a review that is not an approval")
        if policy.required_approvals == 0:
            return Decision(
                False, "review-triggered pushes are off (deploy.policy.required_approvals: 0)"
            )
        if api is None:
            return Decision(False, "no GitHub token to check the approvals")
        return _review_decision(pr, policy.required_approvals, api)
    if event.name in ("pull_request", "pull_request_target"):
        if policy.on_pull_request:
            return Decision(True, "deploy.policy.on_pull_request is on")
        return Decision(False, "pull requests do not push (an approving review or the merge does)")
    if event.name == "workflow_dispatch":
        if not policy.allow_dispatch:
            return Decision(False, "manual dispatch is off (deploy.policy.allow_dispatch: false)")
        if api is None:
            return Decision(False, "no GitHub token to check the actor's permission")
        permission = api.permission(event.actor)
        if permission in WRITERS:
            return Decision(True, f"manual dispatch by {event.actor} ({permission})")
        return Decision(
            False, f"manual dispatch by {event.actor}, who has {permission} permission, not write"
        )
    return Decision(False, f"{event.name} events re-evaluate, they do not push")


def _review_decision(pr: PullRequest, required: int, api: Approvals) -> Decision:
    """Push the head ``pr.head_sha`` only with ``required`` approvals given on that very commit
    by writers other than the author; an approval of an earlier commit is named, not counted."""
    head = pr.head_sha
    if not head:
        return Decision(False, "the review event names no head commit to check approvals against")
    standing = api.standing_approvals(pr.number, pr.author)
    on_head = tuple(a.login for a in standing if a.approves(head))
    counted = f"{len(on_head)} of {required} required"
    if len(on_head) >= required:
        return Decision(
            True,
            f"approved by {', '.join(on_head)} on {_short(head)} ({counted})",
            approvers=on_head,
            approved_commit=head,
        )
    stale = [
        f"{a.login} approved {_short(a.commit_id)}, not the head {_short(head)}"
        for a in standing
        if not a.approves(head)
    ]
    return Decision(
        False,
        f"{counted} approvals by writers other than the author on the head {_short(head)}"
        + (f" ({'; '.join(stale)})" if stale else ""),
        approvers=on_head,
    )


def _short(sha: str | None) -> str:
    """A commit as GitHub shows it in a reason; None: a commit GitHub no longer has."""
    return sha[:SHORT_SHA] if sha else "a commit GitHub no longer has"
