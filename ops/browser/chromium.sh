#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the dashboard's browser test
# (services/api/dashboard e2e), when it is missing. Idempotent: a machine that has it pays one
# `command -v`. Prints the browser's path on stdout, progress on stderr.
#
#   ops/browser/chromium.sh          install if missing (needs root and apt-get)
#
# The package takes a minute or two to install; `make test` calls this before the tests, so the
# browser test runs there rather than skipping.
set -euo pipefail

LOG_PREFIX="chromium"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"

find_browser() {
  local b
  for b in "${ASSAY_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [[ -n "$b" && -x "$b" ]]; then
      printf '%s\n' "$b"
      return 0
    fi
  done
  return 1
}

if find_browser; then
  exit 0
fi
command -v apt-get >/dev/null || die "chromium is missing and apt-get is not available: install Chromium and set ASSAY_CHROMIUM"
[[ "$(id -u)" == 0 ]] || die "chromium is missing; installing it needs root (apt-get install chromium)"
start="$(now_us)"
say "installing Debian's chromium (once per machine, a minute or two)..."
export DEBIAN_FRONTEND=noninteractive
# A stale package index makes install fail with 404s; refresh it only when install fails.
if ! apt-get install -y -q --no-install-recommends chromium >&2; then
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends chromium >&2
fi
say "chromium installed in $(since "$start")s"
find_browser || die "chromium installed but no binary found"
