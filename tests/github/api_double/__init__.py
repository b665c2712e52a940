"""A stateful double of api.github.com that checks itself against GitHub's OpenAPI description.

A real HTTP server on 127.0.0.1 (a ``ThreadingHTTPServer`` in a thread) answers the few
endpoints mlci's action calls, from state the test seeds (pulls, reviews, permissions,
comments). Every request it receives and every response it sends is validated against
GitHub's published description of api.github.com, the npm package ``@octokit/openapi``
(pinned in ``scripts/github-openapi.sh``, which installs it into ``.cache/octokit-openapi/``;
``MLCI_GITHUB_OPENAPI`` points elsewhere). A request GitHub would reject gets a 422 (or the
404 of an unknown endpoint) and a violation; a response the double builds that the
description does not allow is a violation too. ``assert_clean()`` fails a test on either.

    with GitHubDouble() as gh:
        gh.add_pull(7, author="alice", head_sha="a" * 40)
        ...  # point the client at gh.url
        gh.assert_clean()

Bodies are the description's schemas: the fields a test seeds are set from the state, and
every other required field is filled from its schema (URLs under the double, timestamps,
zeros, ``None`` where the schema allows null) by :func:`SpecFiller.fill`.

One module per concern: ``openapi`` (the description, its checks, the filler), ``state``
(records and replies), ``double`` (the server, seeding, assertions), ``routing`` (how routes
are declared and paged), and one module of routes per area of the API: ``repos``, ``pulls``,
``checks``, ``deployments``.
"""

from tests.github.api_double.double import GitHubDouble
from tests.github.api_double.openapi import OpenAPI, SpecFiller, load_openapi, now, spec_path
from tests.github.api_double.state import Fault, RecordedRequest, Reply, State

__all__ = [
    "Fault",
    "GitHubDouble",
    "OpenAPI",
    "RecordedRequest",
    "Reply",
    "SpecFiller",
    "State",
    "load_openapi",
    "now",
    "spec_path",
]
