#!/usr/bin/env bash
# What the browser test of the report (tests/report/test_browser.py) and `make report-preview`
# need: Debian's headless Chromium (apt-get, as root) and the `mermaid` npm package, pinned to
# the major version GitHub renders comments with, in .cache/mermaid/. Safe to run again: what is
# installed already is left alone. Prints the path of mermaid.min.js on success.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    [[ $(id -u) == 0 ]] || { echo "report-browser.sh: chromium is needed (apt-get install chromium)" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi

exec bash scripts/npm-pinned.sh mermaid 11.9.0 .cache/mermaid dist/mermaid.min.js
