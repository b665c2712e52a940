#!/usr/bin/env bash
# Install GitHub's published OpenAPI description of api.github.com (the npm
# package @octokit/openapi, pinned) into .cache/octokit-openapi/ for the GitHub
# API double of tests/github/. Safe to run again: a cache that already holds the
# pinned version is left alone. Prints the spec's path on success.
#
#   MLCI_GITHUB_OPENAPI=/path/to/api.github.com.json overrides where the double
#   looks (then this script is not needed).
set -euo pipefail
exec bash "$(dirname "$0")/npm-pinned.sh" @octokit/openapi 23.0.2 .cache/octokit-openapi \
    generated/api.github.com.json
