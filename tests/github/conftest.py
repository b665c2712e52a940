"""Fixtures of the GitHub tests: a pull request's code runs only in docker, so the action's
pull-request tests use the Docker fixtures too."""

from tests.docker.conftest import base_image, docker_client  # noqa: F401 (fixtures)
