"""The repository, the token's user, and collaborators' permissions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.github.api_double.routing import Route, registry
from tests.github.api_double.state import ROLE_TO_PERMISSION, Reply, error

if TYPE_CHECKING:
    from tests.github.api_double.double import GitHubDouble

ROUTES: dict[str, Route] = {}
route = registry(ROUTES)


@route("repos/get")
def _get_repo(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    return Reply(200, d.repository())


@route("users/get-authenticated")
def _get_user(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    if d.installation():
        raise error(403, "Resource not accessible by integration")
    login = d.actor()
    if d.state.user_refused:
        raise error(403, "Resource not accessible by personal access token")
    return Reply(200, d.user(login, "private-user"))


@route("repos/get-collaborator-permission-level")
def _permission(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    login = p["username"]
    role = d.state.permissions.get(login, "none")
    user = d.user(login, "collaborator")
    user["permissions"] = {
        "pull": role != "none",
        "triage": role in ("triage", "write", "maintain", "admin"),
        "push": role in ("write", "maintain", "admin"),
        "maintain": role in ("maintain", "admin"),
        "admin": role == "admin",
    }
    user["role_name"] = role
    body = {"permission": ROLE_TO_PERMISSION[role], "role_name": role, "user": user}
    return Reply(200, body)
