"""The one adapter that talks to GitHub's REST API, through PyGithub.

Every call goes through a lazy ``Github`` client (objects are not fetched until a field is
read, so a comment upsert is one list and one write) whose transport retries 5xx, 429 and
rate limits (403 with ``Retry-After`` or a rate-limit message) with a bounded backoff that
honours ``Retry-After``. Every PyGithub, requests or urllib3 exception becomes a
:class:`GitHubError` whose message never contains the token.

Creates whose answer is a 5xx or lost (a comment, a check run, a deployment) look before
they try again, for what they sent may have been done.

mlci edits only what it wrote itself: the sticky comment is one holding mlci's marker *and*
authored by :attr:`GitHubAPI.identity`, and a check run found after a lost answer must carry
mlci's fresh ``external_id`` *and* (for an installation token) come from mlci's own app (a
deployment: mlci's fresh id in its payload *and* :attr:`GitHubAPI.identity` as its creator). Anyone
can post a comment holding the marker; were mlci to edit it, its author could later edit the
report into a fake pass.

The parts: :mod:`.base` (the connection, the identity, error translation), :mod:`.retry` (the
transport's retries), :mod:`.creates` (look before creating again), :mod:`.conversation`
(comments, issues, workflow dispatches), :mod:`.checks`, :mod:`.deployments`, :mod:`.people`
(pull requests, reviews, permissions), :mod:`.records` and :mod:`.text` (GitHub's limits).
"""

from mlci_action.github.api.client import GitHubAPI
from mlci_action.github.api.deployments import DEPLOYMENT_MARKER
from mlci_action.github.api.records import (
    Approval,
    CommentResult,
    Conclusion,
    DeploymentInfo,
    DeploymentState,
    GitHubError,
    IssueResult,
    PullInfo,
)

__all__ = [
    "DEPLOYMENT_MARKER",
    "Approval",
    "CommentResult",
    "Conclusion",
    "DeploymentInfo",
    "DeploymentState",
    "GitHubAPI",
    "GitHubError",
    "IssueResult",
    "PullInfo",
]
