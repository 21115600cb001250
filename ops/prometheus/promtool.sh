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
  local p
  for p in "${ASSAY_PROMTOOL:-}" "$(command -v promtool 2>/dev/null || true)"; do
    if [[ -n "$p" && -x "$p" ]]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 1
}

if find_promtool; then
  exit 0
fi
command -v apt-get >/dev/null || die "promtool is missing and apt-get is not available: install Prometheus' promtool and set ASSAY_PROMTOOL"
[[ "$(id -u)" == 0 ]] || die "promtool is missing; installing it needs root (apt-get install prometheus)"
start="$(now_us)"
say "installing Debian's prometheus package for promtool (once per machine)..."
export DEBIAN_FRONTEND=noninteractive
# A stale package index makes install fail with 404s; refresh it only when install fails.
if ! apt-get install -y -q --no-install-recommends prometheus >&2; then
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends prometheus >&2
fi
say "promtool installed in $(since "$start")s"
find_promtool || die "prometheus installed but no promtool found"
