#!/usr/bin/env bash
# Installs promtool (Debian's prometheus package, 2.42 on bookworm) for the alert rules' checks
# and unit tests (ops/deploy TestPromtool), when it is missing. Idempotent: a machine that has it
# pays one `command -v`. Prints promtool's path on stdout, progress on stderr.
#
#   ops/prometheus/promtool.sh       install if missing (needs root and apt-get)
#
# The package starts no service in a container; only its promtool binary is used.
set -euo pipefail

LOG_PREFIX="promtool"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"

find_promtool() {
  first_executable "${ASSAY_PROMTOOL:-}" "$(command -v promtool 2>/dev/null || true)"
}

if find_promtool; then
  exit 0
fi
apt_install promtool prometheus "install Prometheus' promtool and set ASSAY_PROMTOOL"
find_promtool || die "prometheus installed but no promtool found"
