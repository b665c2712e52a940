#!/usr/bin/env bash
# Install GitHub's published OpenAPI description of api.github.com (the npm
# package @octokit/openapi, pinned) into .cache/octokit-openapi/ for the GitHub
# API double of tests/github/. Safe to run again: a cache that already holds the
# pinned version is left alone. Prints the spec's path on success.
#
#   MLCI_GITHUB_OPENAPI=/path/to/api.github.com.json overrides where the double
#   looks (then this script is not needed).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="23.0.2"
PREFIX=".cache/octokit-openapi"
PKG="$PREFIX/node_modules/@octokit/openapi"
SPEC="$PKG/generated/api.github.com.json"

installed_version() {
    node -p "require('./$PKG/package.json').version" 2>/dev/null || true
}

if [[ -f "$SPEC" && "$(installed_version)" == "$VERSION" ]]; then
    echo "$SPEC"
    exit 0
fi

command -v npm >/dev/null || { echo "github-openapi.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$PREFIX"
# A package.json of its own keeps npm from walking up to another project.
[[ -f "$PREFIX/package.json" ]] || echo '{"private": true}' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --no-audit --no-fund --silent --save-exact "@octokit/openapi@$VERSION" >&2
[[ -f "$SPEC" ]] || { echo "github-openapi.sh: $SPEC missing after install" >&2; exit 1; }
echo "$SPEC"
