"""Deployments and their statuses."""

from __future__ import annotations

from tests.github.api_double.routing import Route

ROUTES: dict[str, Route] = {}
