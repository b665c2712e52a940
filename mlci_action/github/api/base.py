"""The connection every part of the adapter shares: the lazy PyGithub client, the identity
mlci writes as, and the translation of every PyGithub, requests or urllib3 exception into a
:class:`GitHubError` whose message never contains the token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
import urllib3
from github import Auth, Github, GithubException
from github.NamedUser import NamedUser
from github.Organization import Organization

from mlci_action.github.api.records import GitHubError
from mlci_action.github.api.retry import make_retry
from mlci_action.github.context import APP_SLUG

INSTALLATION_TOKEN_PREFIX = "ghs_"  # GITHUB_TOKEN and other GitHub App installation tokens
ACTIONS_APP_SLUG = "github-actions"  # the GitHub App GITHUB_TOKEN is an installation token of


class Connection:
    """One repository through one token."""

    def __init__(
        self,
        token: str,
        repository: str,
        base_url: str = "https://api.github.com",
        retries: int = 5,
        *,
        seconds_between_requests: float = 0.25,
        seconds_between_writes: float = 1.0,
        app_slug: str | None = None,
    ) -> None:
        """The pauses between requests are PyGithub's defaults, which keep clear of
        GitHub's secondary rate limits; tests against a local double set them to 0.

        ``app_slug``: the GitHub App whose installation token (``ghs_``) ``token`` is, when it
        is not GITHUB_TOKEN (the app ``github-actions``); an installation token cannot ask
        GitHub which app it belongs to. Ignored for any other token."""
        if not token:
            raise GitHubError("no GitHub token")
        if repository.count("/") != 1:
            raise GitHubError(f"repository {repository!r} is not owner/name")
        if app_slug is not None and not APP_SLUG.fullmatch(app_slug):
            raise GitHubError(
                f"app slug {app_slug!r} is not a GitHub App's slug (lowercase letters, digits, "
                "hyphens)"
            )
        self._token = token
        self._repository = repository
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=base_url.rstrip("/"),
            retry=make_retry(retries),
            per_page=100,
            lazy=True,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
        )
        self._repo = self._gh.get_repo(repository)
        self._installation = token.startswith(INSTALLATION_TOKEN_PREFIX)
        self._app_slug = app_slug or ACTIONS_APP_SLUG
        self._me_known = False
        self._me: tuple[str, str] | None = None

    def close(self) -> None:
        self._gh.close()

    @property
    def identity(self) -> str | None:
        """The login mlci writes as: ``<app-slug>[bot]`` for an installation token
        (``github-actions[bot]`` for GITHUB_TOKEN), the login GET /user answers for any other
        token, or None where GET /user is refused: then mlci cannot tell its own comments
        from anyone else's, so it edits none and posts a new one each time."""
        with self._translate("reading the token's own account"):
            me = self._whoami()
        return me[0] if me is not None else None

    def _whoami(self) -> tuple[str, str] | None:
        """The (login, type) mlci writes as, or None where it cannot tell; see identity."""
        if self._installation:
            # GET /user and GET /app refuse an installation token: the app is the caller's
            return f"{self._app_slug}[bot]", "Bot"
        if not self._me_known:
            try:
                user = self._gh.get_user()
                self._me = (user.login, user.type or "")
            except GithubException as exc:
                if exc.status not in (401, 403, 404):
                    raise
                self._me = None  # nothing about the refusal is kept or shown
            self._me_known = True
        return self._me

    @contextmanager
    def _translate(self, doing: str, *, forbidden: str | None = None) -> Iterator[None]:
        """PyGithub's, requests' and urllib3's exceptions as a GitHubError without the token;
        ``forbidden``: what a 403 (a refusal, rate limits having been waited out) means."""
        try:
            yield
        except GithubException as exc:
            why = f" ({forbidden})" if forbidden and exc.status == 403 else ""
            raise GitHubError(
                self._scrub(f"GitHub API error {doing}: {exc.status} {message(exc)}{why}"),
                status=exc.status,
            ) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise GitHubError(
                self._scrub(f"GitHub API unreachable {doing}: {type(exc).__name__}: {exc}")
            ) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***")


def authored_by(user: NamedUser | Organization | None, me: tuple[str, str]) -> bool:
    """Whether a comment's author is ``me``, (login, type), its type compared when known."""
    login, kind = me
    return user is not None and user.login == login and (not kind or user.type == kind)


def message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return exc.message or str(data or "")
