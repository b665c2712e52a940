"""Pull requests, their reviews and their (issue) comments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.github.api_double.openapi import now
from tests.github.api_double.routing import Route, page, registry
from tests.github.api_double.state import JSON, Comment, Pull, Reply, Review, error

if TYPE_CHECKING:
    from tests.github.api_double.double import GitHubDouble

ROUTES: dict[str, Route] = {}
route = registry(ROUTES)


def pull_body(d: GitHubDouble, p: Pull) -> JSON:
    url = f"{d.repo_url}/pulls/{p.number}"
    head_repo = d.repository("repository", fork=p.head_repo_fork)
    base_repo = d.repository("repository")
    return d.filler.fill(
        "pull-request",
        {
            "id": 9000 + p.number,
            "node_id": f"PR_{p.number}",
            "number": p.number,
            "state": "open",
            "locked": False,
            "title": p.title,
            "user": d.user(p.author),
            "url": url,
            "html_url": f"https://github.com/{d.full_name}/pull/{p.number}",
            "issue_url": f"{d.repo_url}/issues/{p.number}",
            "comments_url": f"{d.repo_url}/issues/{p.number}/comments",
            "review_comments_url": f"{url}/comments",
            "commits_url": f"{url}/commits",
            "statuses_url": f"{d.repo_url}/statuses/{p.head_sha}",
            "head": {
                "label": f"{head_repo['owner']['login']}:{p.head_ref}",
                "ref": p.head_ref,
                "sha": p.head_sha,
                "repo": head_repo,
                "user": head_repo["owner"],
            },
            "base": {
                "label": f"{d.state.owner}:{p.base_ref}",
                "ref": p.base_ref,
                "sha": "0" * 40,
                "repo": base_repo,
                "user": base_repo["owner"],
            },
            "author_association": "CONTRIBUTOR",
            "draft": False,
            "merged": False,
            "mergeable_state": "clean",
            "created_at": now(),
            "updated_at": now(),
        },
        url,
    )


def comment_body(d: GitHubDouble, c: Comment) -> JSON:
    return {
        "id": c.id,
        "node_id": f"IC_{c.id}",
        "url": f"{d.repo_url}/issues/comments/{c.id}",
        "html_url": f"https://github.com/{d.full_name}/pull/{c.issue}#issuecomment-{c.id}",
        "issue_url": f"{d.repo_url}/issues/{c.issue}",
        "body": c.body,
        "user": d.user(c.user),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "author_association": "NONE" if c.user.endswith("[bot]") else "CONTRIBUTOR",
    }


def review_body(d: GitHubDouble, r: Review) -> JSON:
    html = f"https://github.com/{d.full_name}/pull/{r.pr}#pullrequestreview-{r.id}"
    pull_url = f"{d.repo_url}/pulls/{r.pr}"
    return {
        "id": r.id,
        "node_id": f"PRR_{r.id}",
        "user": d.user(r.user),
        "body": "",
        "state": r.state,
        "commit_id": r.commit_id,
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "author_association": "MEMBER" if r.user in d.state.permissions else "NONE",
        "submitted_at": r.submitted_at,
    }


def _pull(d: GitHubDouble, number: str) -> Pull:
    pull = d.state.pulls.get(int(number))
    if pull is None:
        raise error(404, "Not Found")
    return pull


@route("pulls/get")
def _get_pull(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    return Reply(200, pull_body(d, _pull(d, p["pull_number"])))


def _issue_number(d: GitHubDouble, number: str) -> int:
    """A pull request's or an issue's number (comments belong to either)."""
    if int(number) in d.state.issues:
        return int(number)
    return _pull(d, number).number


@route("issues/list-comments")
def _list_comments(d: GitHubDouble, p: dict[str, str], q: dict[str, list[str]], b: Any) -> Reply:
    number = _issue_number(d, p["issue_number"])
    items = [comment_body(d, c) for c in d.comments_on(number)]
    return page(d, q, items, f"/repos/{d.full_name}/issues/{number}/comments")


@route("issues/create-comment")
def _create_comment(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    number = _issue_number(d, p["issue_number"])
    if number in d.state.issues and d.state.issues_forbidden:
        raise error(403, "Resource not accessible by integration")
    comment_id = d.add_comment(number, d.actor(), b["body"])
    body = comment_body(d, d.state.comments[comment_id])
    return Reply(201, body, {"Location": body["url"]})


@route("issues/update-comment")
def _update_comment(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    comment = d.state.comments.get(int(p["comment_id"]))
    if comment is None:
        raise error(404, "Not Found")
    comment.body, comment.updated_at = b["body"], now()
    return Reply(200, comment_body(d, comment))


@route("pulls/list-reviews")
def _list_reviews(d: GitHubDouble, p: dict[str, str], q: dict[str, list[str]], b: Any) -> Reply:
    pull = _pull(d, p["pull_number"])
    items = [review_body(d, r) for r in d.state.reviews if r.pr == pull.number]
    return page(d, q, items, f"/repos/{d.full_name}/pulls/{pull.number}/reviews")
