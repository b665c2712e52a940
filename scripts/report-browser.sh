#!/usr/bin/env bash
# What the browser test of the report (tests/report/test_browser.py) and `make report-preview`
# need: Debian's headless Chromium (apt-get, as root) and the `mermaid` npm package, pinned to
# the major version GitHub renders comments with, in .cache/mermaid/. Safe to run again: what is
# installed already is left alone. Prints the path of mermaid.min.js on success.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="11.9.0"
PREFIX=".cache/mermaid"
PKG="$PREFIX/node_modules/mermaid"
JS="$PKG/dist/mermaid.min.js"

if ! command -v chromium >/dev/null; then
    [[ $(id -u) == 0 ]] || { echo "report-browser.sh: chromium is needed (apt-get install chromium)" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi

installed_version() {
    node -p "require('./$PKG/package.json').version" 2>/dev/null || true
}

if [[ -f "$JS" && "$(installed_version)" == "$VERSION" ]]; then
    echo "$JS"
    exit 0
fi
command -v npm >/dev/null || { echo "report-browser.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$PREFIX"
[[ -f "$PREFIX/package.json" ]] || echo '{"private": true}' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --no-audit --no-fund --silent --save-exact "mermaid@$VERSION" >&2
[[ -f "$JS" ]] || { echo "report-browser.sh: $JS missing after install" >&2; exit 1; }
echo "$JS"
