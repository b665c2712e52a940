"""Check runs, and commit statuses where a token may not create check runs."""

from __future__ import annotations

from typing import Literal

from github import GithubException
from github.CheckRun import CheckRun
from github.GithubObject import NotSet

from mlci_action.github.api import creates
from mlci_action.github.api.base import Connection
from mlci_action.github.api.records import Conclusion
from mlci_action.github.api.text import CHECK_SUMMARY_LIMIT, STATUS_DESCRIPTION_LIMIT, trim


class Checks(Connection):
    def report_check(
        self,
        sha: str,
        name: str,
        conclusion: Conclusion,
        title: str,
        summary: str,
        *,
        details_url: str | None = None,
    ) -> Literal["check-run", "status"]:
        """A completed check run, or a commit status where the token may not create one.

        The run carries a fresh ``external_id``: after a 5xx, the runs on ``sha`` are listed
        and one with that id, created by mlci's own app (:meth:`_is_mine`), means the create
        did happen."""
        mine = creates.external_id()
        with self._translate(f"creating the check run {name!r}"):
            try:
                for attempt in creates.creating():
                    with attempt:
                        if attempt.retry_state.attempt_number > 1 and any(
                            self._is_mine(run, mine)
                            for run in self._repo.get_commit(sha).get_check_runs(check_name=name)
                        ):
                            return "check-run"
                        self._repo.create_check_run(
                            name=name,
                            head_sha=sha,
                            external_id=mine,
                            status="completed",
                            conclusion=conclusion,
                            output={"title": title, "summary": trim(summary, CHECK_SUMMARY_LIMIT)},
                            details_url=details_url or NotSet,
                        )
                        return "check-run"
            except GithubException as exc:
                if exc.status not in (403, 404):
                    raise
        with self._translate(f"creating the commit status {name!r}"):
            self._repo.get_commit(sha).create_status(
                state="failure" if conclusion == "failure" else "success",
                description=trim(title, STATUS_DESCRIPTION_LIMIT),
                context=name,
                target_url=details_url or NotSet,
            )
            return "status"

    def _is_mine(self, run: CheckRun, external_id: str) -> bool:
        """A run with mlci's fresh ``external_id`` that mlci's own app created.

        For an installation token the run's ``app.slug`` must be the app's. A user token
        has no app to compare with: GitHub lets only GitHub Apps create check runs (a
        personal or OAuth token's create is answered 403 and mlci posts a commit status),
        and a GitHub App's user token (``ghu_``) does not tell which app it is, so there the
        ``external_id`` alone decides: a uuid4 that no one knew before mlci sent it."""
        if run.external_id != external_id:
            return False
        if not self._installation:
            return True
        app = run.app
        return app is not None and app.slug == self._app_slug
