"""What the GitHub adapter answers with: immutable records, and its one error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mlci_action.errors import MlciError

Conclusion = Literal["success", "failure", "neutral"]
DeploymentState = Literal["success", "failure", "error", "inactive", "in_progress"]
DIGEST_KEY = "digest"
"""The payload key of the image digest (sha256:...) a deployment shipped."""


class GitHubError(MlciError):
    """A GitHub API call failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CommentResult:
    id: int
    url: str
    created: bool


@dataclass(frozen=True)
class IssueResult:
    number: int
    url: str
    created: bool


@dataclass(frozen=True)
class Approval:
    """A pull request review that approved the commit ``commit_id`` (None where GitHub no
    longer has that commit)."""

    login: str
    commit_id: str | None
    submitted_at: datetime | None
    review_id: int

    def approves(self, sha: str) -> bool:
        """Whether this approval was given on the commit ``sha`` (a full SHA)."""
        return bool(sha) and (self.commit_id or "").lower() == sha.lower()


@dataclass(frozen=True)
class DeploymentInfo:
    """A deployment of one environment and the state of its latest status (None: no status
    yet). ``succeeded``: whether any of its statuses was success; GitHub marks a superseded
    successful deployment ``inactive``, so that one reads state inactive and succeeded."""

    id: int
    sha: str
    ref: str
    environment: str
    payload: dict[str, Any]
    created_at: datetime
    state: str | None
    succeeded: bool

    @property
    def digest(self) -> str | None:
        """The image digest the deployment shipped, from its payload's ``digest``."""
        value = self.payload.get(DIGEST_KEY)
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class PullInfo:
    author: str
    head_sha: str
    base_ref: str
    head_repo_full_name: str
    is_fork: bool
