"""The transport's retries: 5xx, 429 and rate limits (a 403 with ``Retry-After`` or a
rate-limit message), with a bounded backoff that honours ``Retry-After``; a POST only when
GitHub refused it."""

from __future__ import annotations

import inspect
from typing import Any

import urllib3
from github import GithubRetry

# the longest a single wait may be: Retry-After, a secondary or a primary rate limit
MAX_WAIT_SECONDS = 120
SECONDARY_RATE_WAIT_SECONDS = 60


class _Retry(GithubRetry):
    """GithubRetry, except that a POST (which creates something) is retried only when GitHub
    refused it (429, a rate-limit 403). After a 5xx or a lost answer it may have been done,
    so the caller looks before creating again: a second PR comment is worse than a late one."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST":
            return bool(self.total) and status_code in (403, 429)
        return bool(super().is_retry(method, status_code, has_retry_after))


def make_retry(retries: int) -> GithubRetry:
    """Retries 5xx, 429 and rate-limit 403s (a POST: only the refusals), waits bounded by
    MAX_WAIT_SECONDS."""
    options: dict[str, Any] = {
        "total": retries,
        "backoff_factor": 1.0,  # 0 s, 2 s, 4 s, ... between attempts without a Retry-After
        "backoff_max": 30,
        "status_forcelist": [429, *range(500, 600)],  # GithubRetry adds 403 (rate limits only)
        # idempotent methods only, for errors after the request was sent (a read timeout)
        "allowed_methods": frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE"}),
        "raise_on_status": False,  # the last answer reaches PyGithub and becomes a GitHubError
        "secondary_rate_wait": SECONDARY_RATE_WAIT_SECONDS,
        "max_rate_limit_wait": MAX_WAIT_SECONDS,
    }
    if "retry_after_max" in inspect.signature(urllib3.Retry.__init__).parameters:
        options["retry_after_max"] = MAX_WAIT_SECONDS  # urllib3 >= 2.6 caps Retry-After
    return _Retry(**options)
