"""Fixtures of the GitHub tests: a pull request's code runs only in docker, so the action's
pull-request tests use the Docker fixtures too; ``api`` is mlci's client of a module's ``gh``
double (each module makes its own ``gh``)."""

from collections.abc import Iterator

import pytest

from mlci_action.github.api import GitHubAPI
from tests.docker.conftest import base_image, docker_client  # noqa: F401 (fixtures)
from tests.github.api_double import GitHubDouble


@pytest.fixture
def api(gh: GitHubDouble) -> Iterator[GitHubAPI]:
    """mlci's GitHub client of the double, without PyGithub's pauses between requests."""
    assert gh.token is not None
    client = GitHubAPI(
        gh.token,
        gh.full_name,
        base_url=gh.url,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    yield client
    client.close()
