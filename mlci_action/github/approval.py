"""Approval: whether this event may push the image of a passing run, under the deploy policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mlci_action.config import DeployPolicy
from mlci_action.github.context import ActionInputs, Event

WRITERS = ("admin", "maintain", "write")


class Approvals(Protocol):
    def approvals(self, pr_number: int, author: str) -> list[str]: ...

    def permission(self, user: str) -> str: ...


@dataclass(frozen=True)
class Decision:
    push: bool
    reason: str


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
        approvers = api.approvals(pr.number, pr.author)
        if len(approvers) >= policy.required_approvals:
            return Decision(
                True,
                f"approved by {', '.join(approvers)} ({len(approvers)} of {policy.required_approvals} required)",
            )
        return Decision(
            False,
            f"{len(approvers)} of {policy.required_approvals} required approvals by writers other than the author",
        )
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
