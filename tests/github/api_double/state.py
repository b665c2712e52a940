"""The double's state: what the test seeds and the routes change, and the replies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
DOCS = "https://docs.github.com/rest"
INSTALLATION_PREFIX = "ghs_"  # a GitHub App installation's token, GITHUB_TOKEN among them
ACTIONS_APP = "github-actions"  # the GitHub App GITHUB_TOKEN belongs to


# ---------------------------------------------------------------------------- state and records


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    headers: dict[str, str]


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    processed: bool = False
    """The request is carried out, and only the answer is replaced (a 502 after the write)."""


@dataclass
class Pull:
    number: int
    author: str
    head_sha: str
    base_ref: str
    head_ref: str
    head_repo_fork: bool
    title: str


@dataclass
class Comment:
    id: int
    issue: int
    user: str
    body: str
    created_at: str
    updated_at: str


@dataclass
class Review:
    id: int
    pr: int
    user: str
    state: str
    commit_id: str
    submitted_at: str


@dataclass
class Deployment:
    id: int
    sha: str
    ref: str
    task: str
    environment: str
    payload: JSON | str
    description: str | None
    creator: str
    app: str | None
    """The slug of the GitHub App whose installation token created it; None for a user's."""
    transient: bool
    production: bool
    created_at: str


@dataclass
class DeploymentStatus:
    id: int
    deployment: int
    state: str
    description: str
    environment: str
    environment_url: str
    log_url: str
    creator: str
    app: str | None
    created_at: str


@dataclass
class Issue:
    number: int
    title: str
    body: str
    user: str
    labels: list[str]
    created_at: str
    updated_at: str
    state: str = "open"
    state_reason: str | None = None
    closed_at: str | None = None


@dataclass(frozen=True)
class Dispatch:
    """A workflow_dispatch event created through the API."""

    workflow: str
    ref: str
    inputs: dict[str, Any]
    actor: str


@dataclass
class State:
    owner: str
    repo: str
    token_user: str | None
    app_slug: str = ACTIONS_APP
    user_refused: bool = False
    pulls: dict[int, Pull] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    reviews: list[Review] = field(default_factory=list)
    permissions: dict[str, str] = field(default_factory=dict)
    check_runs: dict[int, JSON] = field(default_factory=dict)
    check_run_apps: dict[int, str] = field(default_factory=dict)
    """The slug of the GitHub App that created each check run."""
    statuses: list[JSON] = field(default_factory=list)
    check_runs_forbidden: bool = False
    branches: dict[str, str] = field(default_factory=dict)
    """Branch name -> the SHA it points at, for a deployment's ``ref``."""
    deployments: dict[int, Deployment] = field(default_factory=dict)
    deployment_statuses: list[DeploymentStatus] = field(default_factory=list)
    """In creation order."""
    deployments_forbidden: bool = False
    issues: dict[int, Issue] = field(default_factory=dict)
    issues_forbidden: bool = False
    workflows: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Workflow file name -> the workflow_dispatch inputs it declares."""
    dispatches: list[Dispatch] = field(default_factory=list)
    actions_forbidden: bool = False
    next_id: int = 1000


class Reply(Exception):
    """A response from a route; raised for errors, returned for success."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def error(status: int, message: str, doc: str = DOCS, **extra: Any) -> Reply:
    return Reply(
        status, {"message": message, "documentation_url": doc, "status": str(status), **extra}
    )


ROLE_TO_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
