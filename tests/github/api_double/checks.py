"""Check runs and commit statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.github.api_double.openapi import now
from tests.github.api_double.routing import Route, registry
from tests.github.api_double.state import DOCS, JSON, Reply, error

if TYPE_CHECKING:
    from tests.github.api_double.double import GitHubDouble

ROUTES: dict[str, Route] = {}
route = registry(ROUTES)


def _check_run_body(d: GitHubDouble, run_id: int, fields: JSON) -> JSON:
    output = fields.get("output") or {}
    return d.filler.fill(
        "check-run",
        {
            "id": run_id,
            "node_id": f"CR_{run_id}",
            "head_sha": fields["head_sha"],
            "name": fields["name"],
            "external_id": fields.get("external_id", ""),
            "url": f"{d.repo_url}/check-runs/{run_id}",
            "html_url": f"https://github.com/{d.full_name}/runs/{run_id}",
            "details_url": fields.get("details_url"),
            "status": fields.get("status", "queued"),
            "conclusion": fields.get("conclusion"),
            "started_at": fields.get("started_at", now()),
            "completed_at": fields.get("completed_at"),
            "check_suite": {"id": 5000 + run_id},
            "output": {
                "title": output.get("title"),
                "summary": output.get("summary"),
                "text": output.get("text"),
                "annotations_count": 0,
                "annotations_url": f"{d.repo_url}/check-runs/{run_id}/annotations",
            },
            "app": d.app(d.state.check_run_apps.get(run_id, d.state.app_slug)),
            "pull_requests": [],
        },
        f"{d.repo_url}/check-runs/{run_id}",
    )


def _write_check(d: GitHubDouble, run_id: int, fields: JSON) -> JSON:
    if d.state.check_runs_forbidden:
        raise error(403, "Resource not accessible by integration", f"{DOCS}/checks/runs")
    if not d.installation():
        raise error(403, "You must authenticate via a GitHub App.", f"{DOCS}/checks/runs")
    stored = {**d.state.check_runs.get(run_id, {}), **fields}
    if stored.get("conclusion"):
        stored["status"] = "completed"
        stored.setdefault("completed_at", now())
    d.state.check_runs[run_id] = stored
    d.state.check_run_apps.setdefault(run_id, d.state.app_slug)
    return _check_run_body(d, run_id, stored)


@route("checks/create")
def _create_check(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    return Reply(201, _write_check(d, d._id(), b))


@route("checks/list-for-ref")
def _list_checks(d: GitHubDouble, p: dict[str, str], q: dict[str, list[str]], b: Any) -> Reply:
    name = q.get("check_name", [None])[-1]
    runs = [
        _check_run_body(d, run_id, fields)
        for run_id, fields in sorted(d.state.check_runs.items())
        if fields["head_sha"] == p["ref"] and name in (None, fields["name"])
    ]
    return Reply(200, {"total_count": len(runs), "check_runs": runs})


@route("checks/update")
def _update_check(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    run_id = int(p["check_run_id"])
    if run_id not in d.state.check_runs:
        raise error(404, "Not Found")
    return Reply(200, _write_check(d, run_id, b))


@route("repos/create-commit-status")
def _create_status(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    status_id = d._id()
    record = {"sha": p["sha"], **b}
    d.state.statuses.append(record)
    body = {
        "url": f"{d.repo_url}/statuses/{p['sha']}",
        "avatar_url": None,
        "id": status_id,
        "node_id": f"SC_{status_id}",
        "state": b["state"],
        "description": b.get("description"),
        "target_url": b.get("target_url"),
        "context": b.get("context", "default"),
        "created_at": now(),
        "updated_at": now(),
        "creator": d.user(d.actor()),
    }
    return Reply(201, body, {"Location": body["url"]})
