#!/usr/bin/env bash
# The whole local infrastructure: Kafka and ClickHouse, on the ports in CONTRIBUTING.md.
#
#   ops/stack.sh up      start whatever is not already reachable, in parallel; record what we started
#   ops/stack.sh down    stop only what `up` of the same owner started (a server someone else runs is left alone)
#   ops/stack.sh status  one line per server; exit 0 when both are reachable
#   ops/stack.sh with NAME COMMAND [ARGS...]
#                        up under the owner NAME-<pid>, run COMMAND, down, exit with COMMAND's
#                        status (also on Ctrl-C): what every make target that needs the stack does
#
# The owner is ASSAY_STACK_OWNER (default: manual). `make test`, `make run` and the benchmarks each
# bring the stack up under an owner of their own, so one of them ending never stops servers
# another one started and is still using: `make test` while `make run` is up leaves its stack alone.
#
# `make test` and `make run` call `up`. Each server's time to readiness is printed, because
# startup time is something we report (goal: under 2 minutes from scratch after first download).
# Port overrides (ASSAY_KAFKA_PORT, ASSAY_CLICKHOUSE_PORT, ...) are passed through to the scripts.
set -euo pipefail

LOG_PREFIX="stack"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

OWNER="${ASSAY_STACK_OWNER:-manual}"
[[ "${OWNER}" =~ ^[A-Za-z0-9._-]+$ ]] || die "ASSAY_STACK_OWNER must be letters, digits, '.', '_' or '-': ${OWNER}"
OWNERS="${ASSAY_DATA}/stack.owners"
STARTED="${OWNERS}/${OWNER}" # one name a line: the servers `up` started for this owner
LOCK="${ASSAY_DATA}/.stack.lock"
SERVICES=(kafka clickhouse)

script_of() {
  case "$1" in
    kafka) printf '%s' "${ASSAY_ROOT}/ops/kafka/kafka.sh" ;;
    clickhouse) printf '%s' "${ASSAY_ROOT}/ops/clickhouse/clickhouse.sh" ;;
  esac
}

port_of() {
  case "$1" in
    kafka) printf '%s' "${ASSAY_KAFKA_PORT:-19092}" ;;
    clickhouse) printf '%s' "${ASSAY_CLICKHOUSE_PORT:-19000}" ;;
  esac
}

# "Already running" means reachable on its port, whoever started it (this checkout, another
# checkout, docker-compose): tests only need something answering there.
reachable() {
  port_open "$(port_of "$1")"
}

# Remember a started server, once, keeping what an earlier `up` recorded.
record() {
  grep -qxF -- "$1" "${STARTED}" 2>/dev/null || printf '%s\n' "$1" >>"${STARTED}"
}

do_up() {
  mkdir -p -- "${OWNERS}"
  local s t0 failed=0
  local -a todo=() pids=()
  t0="$(now_us)"
  for s in "${SERVICES[@]}"; do
    if reachable "$s"; then
      say "$s already reachable on 127.0.0.1:$(port_of "$s"), leaving it alone"
    else
      todo+=("$s")
    fi
  done
  # Start in parallel: Kafka's time is mostly the JVM and Maven, ClickHouse's is apt and its own
  # startup, so running them side by side roughly halves a cold start. Each one's output is
  # prefixed with its name; its elapsed time is printed when it is ready.
  for s in "${todo[@]}"; do
    (
      s0="$(now_us)"
      "$(script_of "$s")" start 2>&1 | sed -u "s/^/[$s] /" >&2
      say "$s ready in $(since "${s0}")s"
    ) &
    pids+=("$!")
  done
  local i
  for i in "${!todo[@]}"; do
    s="${todo[$i]}"
    if wait "${pids[$i]}"; then
      record "$s"
    else
      failed=1
      say "$s failed to start (see the lines prefixed [$s] above)"
      # A server that started its process but never became ready still has to be stopped by
      # `down`; the script itself knows whether its pid is alive.
      if "$(script_of "$s")" status >/dev/null 2>&1; then record "$s"; fi
    fi
  done
  if (( failed )); then
    die "not all servers started; 'ops/stack.sh down' stops those that did"
  fi
  say "stack up in $(since "${t0}")s: kafka 127.0.0.1:$(port_of kafka), clickhouse 127.0.0.1:$(port_of clickhouse)"
}

do_down() {
  if [[ ! -s "${STARTED}" ]]; then
    say "nothing was started by 'ops/stack.sh up' for owner ${OWNER}; leaving running servers alone"
    rm -f -- "${STARTED}"
    return 0
  fi
  local s failed=0
  local -a pids=() names=()
  # Stop in parallel too; each script waits for its own process to exit.
  while IFS= read -r s; do
    [[ -n "$s" ]] || continue
    script_of "$s" >/dev/null || continue
    (
      "$(script_of "$s")" stop 2>&1 | sed -u "s/^/[$s] /" >&2
    ) &
    pids+=("$!")
    names+=("$s")
  done <"${STARTED}"
  local i
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { failed=1; say "${names[$i]} did not stop cleanly"; }
  done
  (( failed )) && die "some servers did not stop"
  rm -f -- "${STARTED}"
}

do_status() {
  local s rc=0
  for s in "${SERVICES[@]}"; do
    "$(script_of "$s")" status || { reachable "$s" || rc=1; }
  done
  return "${rc}"
}

# with NAME COMMAND...: one way for every target to bring the stack up for itself and leave
# nothing behind. The owner is unique to this invocation, so a target ending stops only the
# servers it started.
do_with() {
  [[ $# -ge 2 ]] || usage "${BASH_SOURCE[0]}"
  local name="$1" status=0
  shift
  [[ "${name}" =~ ^[A-Za-z0-9._-]+$ ]] || die "stack owner name must be letters, digits, '.', '_' or '-': ${name}"
  export ASSAY_STACK_OWNER="${name}-$$"
  "${BASH_SOURCE[0]}" up || { "${BASH_SOURCE[0]}" down || true; exit 1; }
  trap '"${BASH_SOURCE[0]}" down || true; exit 130' INT TERM
  "$@" || status=$?
  trap - INT TERM
  "${BASH_SOURCE[0]}" down || { (( status )) || status=1; }
  exit "${status}"
}

case "${1:-}" in
  with) shift; do_with "$@" ;;
  up) with_lock "${LOCK}" do_up ;;
  down) with_lock "${LOCK}" do_down ;;
  status) do_status ;;
  *) usage "${BASH_SOURCE[0]}" ;;
esac
