"""Issues (mlci's monitor issue) and workflow_dispatch events, with GitHub's rules.

- Issues and pull requests share one numbering; the repository's issue list holds pull
  requests too (with a ``pull_request`` field), newest first by default; ``state`` (open by
  default, closed, all), ``labels`` (all of a comma-separated list) and ``creator`` filter it.
- Closing sets ``closed_at`` and ``state_reason``; reopening clears them.
- Issue writes by a token without ``issues: write`` are answered 403
  (:meth:`GitHubDouble.set_issues_forbidden`).
- A workflow_dispatch names a seeded workflow (:meth:`GitHubDouble.add_workflow`, else 404)
  and a branch or tag that exists (else 422); inputs the workflow does not declare are
  answered 422 ("Unexpected inputs provided"), values must be strings, numbers or booleans;
  a token without ``actions: write`` is answered 403. Success is 204, no body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.github.api_double.openapi import now
from tests.github.api_double.routing import Route, page, registry
from tests.github.api_double.state import DOCS, JSON, Dispatch, Issue, Reply, error

if TYPE_CHECKING:
    from tests.github.api_double.double import GitHubDouble

ROUTES: dict[str, Route] = {}
route = registry(ROUTES)
FORBIDDEN = "Resource not accessible by integration"


def issue_body(d: GitHubDouble, i: Issue) -> JSON:
    url = f"{d.repo_url}/issues/{i.number}"
    return d.filler.fill(
        "issue",
        {
            "id": 7000 + i.number,
            "node_id": f"I_{i.number}",
            "number": i.number,
            "title": i.title,
            "body": i.body,
            "user": d.user(i.user),
            "labels": [{"name": name, "id": _label_id(name)} for name in i.labels],
            "state": i.state,
            # null where GitHub has none; the description's enum has no null, so left out
            **({"state_reason": i.state_reason} if i.state_reason else {}),
            "locked": False,
            "assignee": None,
            "milestone": None,
            "comments": len(d.comments_on(i.number)),
            "url": url,
            "html_url": f"https://github.com/{d.full_name}/issues/{i.number}",
            "repository_url": d.repo_url,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "created_at": i.created_at,
            "updated_at": i.updated_at,
            "closed_at": i.closed_at,
            "author_association": "NONE" if i.user.endswith("[bot]") else "CONTRIBUTOR",
        },
        url,
    )


def _pull_as_issue(d: GitHubDouble, number: int) -> JSON:
    pull = d.state.pulls[number]
    issue = Issue(number, pull.title, "", pull.author, [], now(), now())
    body = issue_body(d, issue)
    body["pull_request"] = {
        "url": f"{d.repo_url}/pulls/{number}",
        "html_url": f"https://github.com/{d.full_name}/pull/{number}",
        "diff_url": f"https://github.com/{d.full_name}/pull/{number}.diff",
        "patch_url": f"https://github.com/{d.full_name}/pull/{number}.patch",
    }
    return body


def _label_id(name: str) -> int:
    return sum(ord(c) * 17**i for i, c in enumerate(name)) % 1_000_000 + 1


def _issue(d: GitHubDouble, number: str) -> Issue:
    issue = d.state.issues.get(int(number))
    if issue is None:
        raise error(404, "Not Found", f"{DOCS}/issues/issues#get-an-issue")
    return issue


def _writable(d: GitHubDouble) -> None:
    if d.state.issues_forbidden:
        raise error(403, FORBIDDEN, f"{DOCS}/issues/issues#create-an-issue")


def _labels(value: Any) -> list[str]:
    return [item if isinstance(item, str) else str(item.get("name", "")) for item in value or []]


@route("issues/list-for-repo")
def _list(d: GitHubDouble, p: dict[str, str], q: dict[str, list[str]], b: Any) -> Reply:
    state = q.get("state", ["open"])[-1]
    wanted = [label for label in q.get("labels", [""])[-1].split(",") if label]
    creator = q.get("creator", [None])[-1]
    found: list[tuple[int, JSON]] = []
    for issue in d.state.issues.values():
        if state != "all" and issue.state != state:
            continue
        if any(label not in issue.labels for label in wanted):
            continue
        if creator is not None and issue.user != creator:
            continue
        found.append((issue.number, issue_body(d, issue)))
    if state in ("open", "all") and not wanted:
        found += [
            (n, _pull_as_issue(d, n))
            for n, pull in d.state.pulls.items()
            if creator is None or pull.author == creator
        ]
    ascending = q.get("direction", ["desc"])[-1] == "asc"
    items = [body for _, body in sorted(found, key=lambda f: f[0], reverse=not ascending)]
    return page(d, q, items, f"/repos/{d.full_name}/issues")


@route("issues/create")
def _create(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    _writable(d)
    issue = Issue(
        number=d.next_number(),
        title=str(b["title"]),
        body=b.get("body") or "",
        user=d.actor(),
        labels=_labels(b.get("labels")),
        created_at=now(),
        updated_at=now(),
    )
    d.state.issues[issue.number] = issue
    body = issue_body(d, issue)
    return Reply(201, body, {"Location": body["url"]})


@route("issues/get")
def _get(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    if int(p["issue_number"]) in d.state.pulls:
        return Reply(200, _pull_as_issue(d, int(p["issue_number"])))
    return Reply(200, issue_body(d, _issue(d, p["issue_number"])))


@route("issues/update")
def _update(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    issue = _issue(d, p["issue_number"])
    _writable(d)
    if "title" in b and b["title"] is not None:
        issue.title = str(b["title"])
    if "body" in b:
        issue.body = b["body"] or ""
    if "labels" in b:
        issue.labels = _labels(b["labels"])
    state = b.get("state")
    if state == "closed" and issue.state != "closed":
        issue.state, issue.closed_at = "closed", now()
        issue.state_reason = b.get("state_reason") or "completed"
    elif state == "open" and issue.state != "open":
        issue.state, issue.closed_at, issue.state_reason = "open", None, "reopened"
    issue.updated_at = now()
    return Reply(200, issue_body(d, issue))


@route("actions/create-workflow-dispatch")
def _dispatch(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    if d.state.actions_forbidden:
        raise error(403, FORBIDDEN, f"{DOCS}/actions/workflows#create-a-workflow-dispatch-event")
    workflow = p["workflow_id"]
    declared = d.state.workflows.get(workflow)
    if declared is None:
        raise error(404, "Not Found", f"{DOCS}/actions/workflows#create-a-workflow-dispatch-event")
    ref = str(b["ref"]).removeprefix("refs/heads/")
    if ref not in d.state.branches:
        raise error(422, f"No ref found for: {b['ref']}")
    inputs = b.get("inputs") or {}
    unexpected = sorted(set(inputs) - set(declared))
    if unexpected:
        raise error(422, f"Unexpected inputs provided: {unexpected}")
    if any(not isinstance(v, str | int | float | bool) for v in inputs.values()):
        raise error(422, "Invalid value for input: inputs are strings, numbers or booleans")
    d.state.dispatches.append(Dispatch(workflow, ref, dict(inputs), d.actor()))
    return Reply(204)
