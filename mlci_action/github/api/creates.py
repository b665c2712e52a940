"""Creates whose answer is a 5xx or lost (a comment, an issue, a check run, a deployment)
look before they try again, for what they sent may have been done; what they create carries
a fresh id no one knew before, by which that look finds it."""

from __future__ import annotations

import uuid

import requests
import tenacity
import urllib3
from github import GithubException

CREATE_ATTEMPTS = 3
"""Tries at a create (POST) whose answer was a 5xx or lost; each is preceded by a look."""


def external_id() -> str:
    """A check run's external_id (or a deployment's payload id) that no one can know before
    mlci creates it."""
    return f"mlci-{uuid.uuid4().hex}"


def maybe_done(exc: BaseException) -> bool:
    """A create that may or may not have happened: a 5xx, or no answer at all."""
    if isinstance(exc, GithubException):
        return exc.status is not None and exc.status >= 500
    return isinstance(exc, requests.RequestException | urllib3.exceptions.HTTPError)


def creating() -> tenacity.Retrying:
    """Attempts at a create, each starting with a look (the caller's), 1 s then 2 s apart."""
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(CREATE_ATTEMPTS),
        wait=tenacity.wait_exponential(multiplier=1, max=8),
        retry=tenacity.retry_if_exception(maybe_done),
        reraise=True,
    )
