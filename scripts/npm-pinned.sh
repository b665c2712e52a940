#!/usr/bin/env bash
# Install one npm package at an exact version into a prefix of its own, unless that version is
# there already; print the path of FILE (relative to the package) on success.
#
#   scripts/npm-pinned.sh PACKAGE VERSION PREFIX FILE
#
# Used by github-openapi.sh and report-browser.sh. A package.json of its own in PREFIX keeps npm
# from walking up to another project.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# == 4 ]] || { echo "usage: $0 PACKAGE VERSION PREFIX FILE" >&2; exit 2; }
NAME="$1" VERSION="$2" PREFIX="$3"
PKG="$PREFIX/node_modules/$NAME"
TARGET="$PKG/$4"

installed_version() {
    node -p "require('./$PKG/package.json').version" 2>/dev/null || true
}

if [[ -f "$TARGET" && "$(installed_version)" == "$VERSION" ]]; then
    echo "$TARGET"
    exit 0
fi
command -v npm >/dev/null || { echo "npm-pinned.sh: npm is needed for $NAME (apt-get install npm)" >&2; exit 1; }
mkdir -p "$PREFIX"
[[ -f "$PREFIX/package.json" ]] || echo '{"private": true}' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --no-audit --no-fund --silent --save-exact "$NAME@$VERSION" >&2
[[ -f "$TARGET" ]] || { echo "npm-pinned.sh: $TARGET missing after installing $NAME@$VERSION" >&2; exit 1; }
echo "$TARGET"
