"""Deployments and their statuses: what mlci shipped where, and what to roll back to."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from github import BadAttributeException
from github.Deployment import Deployment

from mlci_action.github.api import creates
from mlci_action.github.api.base import Connection
from mlci_action.github.api.records import DeploymentInfo, DeploymentState
from mlci_action.github.api.text import STATUS_DESCRIPTION_LIMIT, trim

DEPLOYMENT_MARKER = "mlci_create_id"
"""The payload key of a deployment's fresh id, by which a create after a 5xx is found."""
DEPLOYMENT_LOOKBACK = 100
"""Deployments read at most, newest first, to find a create after a 5xx or a rollback target."""
DEPLOYMENTS_PERMISSION = (
    "the token needs `deployments: write`: add it to the workflow's `permissions:`, or to the "
    "GitHub App's"
)


class Deployments(Connection):
    def create_deployment(
        self, ref: str, environment: str, payload: dict[str, Any], description: str
    ) -> int:
        """A deployment of ``ref`` (a SHA, best) to ``environment``; returns its id.

        It neither merges the default branch in (``auto_merge: false``) nor waits for commit
        statuses (``required_contexts: []``): mlci deploys what it built and tested. The
        payload carries a fresh id under :data:`DEPLOYMENT_MARKER`: after a 5xx the
        environment's newest deployments are listed, and one with that id, created by
        :attr:`identity` where it is known, means the create did happen."""
        mine = creates.external_id()
        with self._translate(
            f"creating a deployment of {ref} to {environment}", forbidden=DEPLOYMENTS_PERMISSION
        ):
            for attempt in creates.creating():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        found = self._find_deployment(environment, mine)
                        if found is not None:
                            return found
                    made = self._repo.create_deployment(
                        ref=ref,
                        auto_merge=False,
                        required_contexts=[],
                        payload={**payload, DEPLOYMENT_MARKER: mine},
                        environment=environment,
                        description=description,
                        transient_environment=False,
                        production_environment=environment == "production",
                    )
                    return made.id
            raise AssertionError("unreachable: tenacity re-raises the last error")

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        description: str,
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """A new status of the deployment. A ``success`` makes GitHub mark the environment's
        earlier successful deployments inactive (``auto_inactive``). After a 5xx, a newest
        status with the same state and description means it was set."""
        body: dict[str, Any] = {
            "state": state,
            "description": trim(description, STATUS_DESCRIPTION_LIMIT),
            "auto_inactive": True,
        }
        if environment_url:
            body["environment_url"] = environment_url
        if log_url:
            body["log_url"] = log_url
        url = f"{self._repo.url}/deployments/{deployment_id}/statuses"
        with self._translate(
            f"setting deployment {deployment_id} to {state}", forbidden=DEPLOYMENTS_PERMISSION
        ):
            for attempt in creates.creating():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        deployment = self._repo.get_deployment(deployment_id)
                        newest = next(iter(deployment.get_statuses()), None)
                        if (
                            newest is not None
                            and newest.state == state
                            and newest.description == body["description"]
                        ):
                            return
                    self._gh.requester.requestJsonAndCheck("POST", url, input=body)
                    return

    def deployments(
        self, environment: str, *, limit: int = DEPLOYMENT_LOOKBACK
    ) -> list[DeploymentInfo]:
        """The environment's ``limit`` newest deployments, newest first, each with the state
        of its latest status (one request for the list, one per deployment for its statuses)."""
        with self._translate(f"listing the deployments to {environment}"):
            found = list(itertools.islice(self._history(environment), limit))
        return sorted(found, key=lambda d: (d.created_at, d.id), reverse=True)

    def previous_successful(
        self, environment: str, before_digest: str | None = None
    ) -> DeploymentInfo | None:
        """The deployment to roll back to: the newest one of ``environment`` that succeeded
        (its latest status success, or inactive once a later one superseded it) and shipped a
        digest other than ``before_digest``. Without ``before_digest``, the digest of the live
        deployment (the newest whose latest status is success) is the one to move away from.
        Deployments that never succeeded, or whose payload names no digest, are passed over.
        None when there is no such deployment among the :data:`DEPLOYMENT_LOOKBACK` newest."""
        current = before_digest
        with self._translate(f"looking for the previous deployment to {environment}"):
            for deployment in itertools.islice(self._history(environment), DEPLOYMENT_LOOKBACK):
                if deployment.digest is None or not deployment.succeeded:
                    continue
                if current is None and deployment.state == "success":
                    current = deployment.digest  # the live one
                    continue
                if deployment.state in ("success", "inactive") and deployment.digest != current:
                    return deployment
        return None

    def _history(self, environment: str) -> Iterator[DeploymentInfo]:
        """The environment's deployments as GitHub lists them, newest first, each with its
        statuses read as it is reached."""
        for deployment in self._repo.get_deployments(environment=environment):
            statuses = sorted(
                deployment.get_statuses(), key=lambda s: (s.created_at, s.id), reverse=True
            )
            yield DeploymentInfo(
                id=deployment.id,
                sha=deployment.sha,
                ref=deployment.ref,
                environment=deployment.environment,
                payload={k: v for k, v in _payload(deployment).items() if k != DEPLOYMENT_MARKER},
                created_at=deployment.created_at,
                state=statuses[0].state if statuses else None,
                succeeded=any(s.state == "success" for s in statuses),
            )

    def _find_deployment(self, environment: str, marker: str) -> int | None:
        """The id of the deployment whose payload holds ``marker`` and that mlci created."""
        me = self._whoami()
        newest = self._repo.get_deployments(environment=environment)
        for deployment in itertools.islice(newest, DEPLOYMENT_LOOKBACK):
            if _payload(deployment).get(DEPLOYMENT_MARKER) != marker:
                continue
            creator = deployment.creator
            if me is None or (creator is not None and creator.login == me[0]):
                return deployment.id
        return None


def _payload(deployment: Deployment) -> dict[str, Any]:
    """A deployment's payload as a dict; one another tool gave as a string reads empty."""
    try:
        payload = deployment.payload
    except BadAttributeException:
        return {}
    return payload if isinstance(payload, dict) else {}
