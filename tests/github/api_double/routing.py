"""How a route module declares the operations it answers, and paging as GitHub pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tests.github.api_double.openapi import JSON
from tests.github.api_double.state import Reply

if TYPE_CHECKING:
    from tests.github.api_double.double import GitHubDouble

Route = Callable[["GitHubDouble", dict[str, str], dict[str, list[str]], Any], Reply]
"""(double, path parameters, query, JSON body) -> a reply; raise a Reply for an error."""


def registry(routes: dict[str, Route]) -> Callable[[str], Callable[[Route], Route]]:
    """A decorator that files a route in ``routes`` under its GitHub operationId."""

    def route(operation_id: str) -> Callable[[Route], Route]:
        def register(fn: Route) -> Route:
            routes[operation_id] = fn
            return fn

        return register

    return route


def page(double: GitHubDouble, query: dict[str, list[str]], items: list[JSON], path: str) -> Reply:
    """One page of ``items`` as GitHub answers a list: ``per_page`` (30, at most 100) and
    ``page`` from the query, and a ``Link`` header whose URLs keep the query's other filters."""
    per_page = min(int(query.get("per_page", ["30"])[-1]), 100)
    number = max(int(query.get("page", ["1"])[-1]), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    filters = {k: v[-1] for k, v in query.items() if k not in ("per_page", "page")}
    links = []

    def link(n: int, rel: str) -> str:
        args = urlencode({**filters, "per_page": per_page, "page": n})
        return f'<{double.url}{path}?{args}>; rel="{rel}"'

    if number < last:
        links += [link(number + 1, "next"), link(last, "last")]
    if number > 1:
        links += [link(1, "first"), link(number - 1, "prev")]
    headers = {"Link": ", ".join(links)} if links else {}
    return Reply(200, items[(number - 1) * per_page : number * per_page], headers)
