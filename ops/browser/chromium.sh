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
  first_executable "${ASSAY_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser
}

if find_browser; then
  exit 0
fi
apt_install chromium chromium "install Chromium and set ASSAY_CHROMIUM"
find_browser || die "chromium installed but no binary found"
