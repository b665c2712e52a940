"""Deployments and their statuses, with GitHub's rules that matter to a deployer.

- A deployment's ``ref`` (a SHA, a seeded branch or a pull request's head branch) is resolved
  to the ``sha`` it records; an unknown ref is answered 422.
- Without ``required_contexts``, GitHub first checks every commit status context of that SHA
  and answers 409 unless each one's latest state is success; ``[]`` skips the check.
- ``production_environment`` defaults to ``environment == "production"``.
- Lists are newest first, as GitHub answers them.
- A ``success`` status with ``auto_inactive`` (the default) adds an ``inactive`` status to
  every prior non-transient deployment of the same environment that had a ``success``.
  GitHub's description says "non-production" too; GitHub's own pages show one active
  deployment per environment, production included, and the double follows them. mlci relies
  on neither reading (see ``GitHubAPI.previous_successful``).
- Writes by a token without ``deployments: write`` are answered 403
  (:meth:`GitHubDouble.set_deployments_forbidden`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tests.github.api_double.openapi import now
from tests.github.api_double.routing import Route, page, registry
from tests.github.api_double.state import (
    DOCS,
    JSON,
    Deployment,
    DeploymentStatus,
    Reply,
    error,
)

if TYPE_CHECKING:
    from tests.github.api_double.double import GitHubDouble

ROUTES: dict[str, Route] = {}
route = registry(ROUTES)
FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")
FORBIDDEN_DOC = f"{DOCS}/deployments/deployments#create-a-deployment"


# ---------------------------------------------------------------------------- rules


def resolve_ref(d: GitHubDouble, ref: str) -> str | None:
    """The SHA ``ref`` names: a full SHA, a seeded branch, or a pull request's head branch."""
    if FULL_SHA.fullmatch(ref):
        return ref.lower()
    branch = ref.removeprefix("refs/heads/")
    if branch in d.state.branches:
        return d.state.branches[branch]
    heads = [p.head_sha for p in d.state.pulls.values() if p.head_ref == branch]
    return heads[-1] if heads else None


def statuses_of(d: GitHubDouble, deployment_id: int) -> list[DeploymentStatus]:
    """A deployment's statuses, newest first."""
    return [s for s in reversed(d.state.deployment_statuses) if s.deployment == deployment_id]


def failing_contexts(d: GitHubDouble, sha: str) -> list[str]:
    """The commit status contexts on ``sha`` whose latest state is not success."""
    latest: dict[str, str] = {}
    for status in d.state.statuses:
        if status["sha"] == sha:
            latest[status.get("context", "default")] = status["state"]
    return sorted(context for context, state in latest.items() if state != "success")


def add_status(
    d: GitHubDouble, deployment: Deployment, state: str, *, auto_inactive: bool, **fields: str
) -> DeploymentStatus:
    """Append a status (and, for a success with ``auto_inactive``, the inactive ones)."""
    previous = statuses_of(d, deployment.id)
    environment = fields.get("environment") or (
        previous[0].environment if previous else deployment.environment
    )
    login = fields.get("creator") or d.actor()
    status = DeploymentStatus(
        id=d._id(),
        deployment=deployment.id,
        state=state,
        description=fields.get("description", ""),
        environment=environment,
        environment_url=fields.get("environment_url", ""),
        log_url=fields.get("log_url", ""),
        creator=login,
        app=d.state.app_slug if login.endswith("[bot]") else None,
        created_at=now(),
    )
    d.state.deployment_statuses.append(status)
    if state == "success" and auto_inactive:
        for other in list(d.state.deployments.values()):
            history = statuses_of(d, other.id)
            if (
                other.id < deployment.id
                and other.environment == deployment.environment
                and not other.transient
                and any(s.state == "success" for s in history)
                and history[0].state != "inactive"
            ):
                add_status(d, other, "inactive", auto_inactive=False, creator=login)
    return status


# ---------------------------------------------------------------------------- bodies


def deployment_body(d: GitHubDouble, dep: Deployment) -> JSON:
    url = f"{d.repo_url}/deployments/{dep.id}"
    return d.filler.fill(
        "deployment",
        {
            "url": url,
            "id": dep.id,
            "node_id": f"DE_{dep.id}",
            "sha": dep.sha,
            "ref": dep.ref,
            "task": dep.task,
            "payload": dep.payload,
            "original_environment": dep.environment,
            "environment": dep.environment,
            "description": dep.description,
            "creator": d.user(dep.creator),
            "created_at": dep.created_at,
            "updated_at": dep.created_at,
            "statuses_url": f"{url}/statuses",
            "repository_url": d.repo_url,
            "transient_environment": dep.transient,
            "production_environment": dep.production,
            "performed_via_github_app": d.app(dep.app) if dep.app else None,
        },
        url,
    )


def status_body(d: GitHubDouble, status: DeploymentStatus) -> JSON:
    deployment_url = f"{d.repo_url}/deployments/{status.deployment}"
    url = f"{deployment_url}/statuses/{status.id}"
    return d.filler.fill(
        "deployment-status",
        {
            "url": url,
            "id": status.id,
            "node_id": f"DES_{status.id}",
            "state": status.state,
            "creator": d.user(status.creator),
            "description": status.description,
            "environment": status.environment,
            "target_url": status.log_url,
            "log_url": status.log_url,
            "environment_url": status.environment_url,
            "created_at": status.created_at,
            "updated_at": status.created_at,
            "deployment_url": deployment_url,
            "repository_url": d.repo_url,
            "performed_via_github_app": d.app(status.app) if status.app else None,
        },
        url,
    )


# ---------------------------------------------------------------------------- routes


def _deployment(d: GitHubDouble, deployment_id: str) -> Deployment:
    dep = d.state.deployments.get(int(deployment_id))
    if dep is None:
        raise error(404, "Not Found")
    return dep


def _writable(d: GitHubDouble) -> None:
    if d.state.deployments_forbidden:
        raise error(403, "Resource not accessible by integration", FORBIDDEN_DOC)


@route("repos/list-deployments")
def _list(d: GitHubDouble, p: dict[str, str], q: dict[str, list[str]], b: Any) -> Reply:
    filters = {k: q[k][-1] for k in ("sha", "ref", "task", "environment") if k in q}
    items = [
        deployment_body(d, dep)
        for dep in sorted(d.state.deployments.values(), key=lambda x: -x.id)
        if all(getattr(dep, key) == value for key, value in filters.items())
    ]
    return page(d, q, items, f"/repos/{d.full_name}/deployments")


@route("repos/create-deployment")
def _create(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    _writable(d)
    ref = b["ref"]
    sha = resolve_ref(d, ref)
    if sha is None:
        raise error(422, f"No ref found for: {ref}")
    if "required_contexts" not in b and failing_contexts(d, sha):
        # GitHub's description gives the 409 no body
        raise Reply(409)
    environment = b.get("environment", "production")
    dep = Deployment(
        id=d._id(),
        sha=sha,
        ref=ref,
        task=b.get("task", "deploy"),
        environment=environment,
        payload=b.get("payload", ""),
        description=b.get("description", ""),
        creator=d.actor(),
        app=d.state.app_slug if d.installation() else None,
        transient=b.get("transient_environment", False),
        production=b.get("production_environment", environment == "production"),
        created_at=now(),
    )
    d.state.deployments[dep.id] = dep
    body = deployment_body(d, dep)
    return Reply(201, body, {"Location": body["url"]})


@route("repos/get-deployment")
def _get(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    return Reply(200, deployment_body(d, _deployment(d, p["deployment_id"])))


@route("repos/list-deployment-statuses")
def _list_statuses(d: GitHubDouble, p: dict[str, str], q: dict[str, list[str]], b: Any) -> Reply:
    dep = _deployment(d, p["deployment_id"])
    items = [status_body(d, s) for s in statuses_of(d, dep.id)]
    return page(d, q, items, f"/repos/{d.full_name}/deployments/{dep.id}/statuses")


@route("repos/create-deployment-status")
def _create_status(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    dep = _deployment(d, p["deployment_id"])
    _writable(d)
    fields = {
        "description": b.get("description", ""),
        "environment_url": b.get("environment_url", ""),
        "log_url": b.get("log_url") or b.get("target_url") or "",
    }
    if b.get("environment"):
        fields["environment"] = b["environment"]
    status = add_status(d, dep, b["state"], auto_inactive=b.get("auto_inactive", True), **fields)
    body = status_body(d, status)
    return Reply(201, body, {"Location": body["url"]})
