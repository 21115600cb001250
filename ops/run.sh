#!/usr/bin/env bash
# `make run`: the whole pipeline on one machine, live, until Ctrl-C.
#
#   1. the real local stack (ops/stack.sh up: Kafka from Maven Central, ClickHouse from Debian),
#   2. the ClickHouse schema and the Kafka topics (assay admin migrate / topics, idempotent),
#   3. the ingest gateway, the processors (ledger, every kpi_* processor, lineage, router) and the API
#      with its dashboard, in the background, logs under .data/run/,
#   4. the demo workload (assay demo): realistic annotation programs played through the
#      gateway, each event by the demo principal that may write it (collector, model, a
#      labeler per vendor, qa, owner), one program after another,
# then it prints the dashboard's URL with the read tokens to sign in with (an analyst of every
# project, and the demo vendor's own view) and the KPIs once they are non-empty. Ctrl-C stops
# everything it started, and the stack when this run started it.
#
# Addresses follow the services' own variables: ASSAY_INGEST_ADDR (127.0.0.1:18090),
# ASSAY_PROCESSOR_HTTP (127.0.0.1:9102), ASSAY_API_ADDR (127.0.0.1:18080). The demo's pace:
# ASSAY_DEMO_RATE (events/s, 200), ASSAY_DEMO_SEED (1), ASSAY_DEMO_DURATION (24h).
set -euo pipefail

LOG_PREFIX="run"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
cd "${ASSAY_ROOT}"

t0="$(now_us)"
RUN_DIR="${ASSAY_DATA}/run"
INGEST_ADDR="${ASSAY_INGEST_ADDR:-127.0.0.1:18090}"
PROCESSOR_HTTP="${ASSAY_PROCESSOR_HTTP:-127.0.0.1:9102}"
API_ADDR="${ASSAY_API_ADDR:-127.0.0.1:18080}"
DEMO_RATE="${ASSAY_DEMO_RATE:-200}"
DEMO_SEED="${ASSAY_DEMO_SEED:-1}"
DEMO_DURATION="${ASSAY_DEMO_DURATION:-24h}"
PROJECT="demo"

declare -a child_pids=() child_names=()
stack_up=0

cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  echo >&2
  say "stopping what make run started..."
  local i pid
  # Reverse order of start: the demo stops producing before the gateway goes, the processors
  # flush and commit after the last events arrived, the API goes last.
  for (( i=${#child_pids[@]}-1; i>=0; i-- )); do
    pid="${child_pids[$i]}"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      local deadline=$((SECONDS + 35))
      while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
      if kill -0 "$pid" 2>/dev/null; then
        say "${child_names[$i]} did not stop within 35s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      wait "$pid" 2>/dev/null || true
      say "${child_names[$i]} stopped"
    fi
  done
  if (( stack_up )); then ops/stack.sh down || rc=1; fi
  exit "$rc"
}
trap cleanup INT TERM EXIT

port_of_addr() { printf '%s' "${1##*:}"; }

# start NAME CMD...: run CMD in the background with its output in .data/run/NAME.log.
start() {
  local name="$1"; shift
  "$@" >"${RUN_DIR}/${name}.log" 2>&1 &
  child_pids+=("$!")
  child_names+=("$name")
  say "${name} started (pid $!, log .data/run/${name}.log)"
}

# pid_of NAME: the pid of a started child.
pid_of() {
  local i
  for i in "${!child_names[@]}"; do
    [[ "${child_names[$i]}" == "$1" ]] && { printf '%s' "${child_pids[$i]}"; return 0; }
  done
  return 1
}

# wait_ready NAME URL TIMEOUT_S: poll URL until it answers 200; fail with the log's tail.
wait_ready() {
  local name="$1" url="$2" timeout="$3" deadline=$((SECONDS + $3))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if ! kill -0 "$(pid_of "$name")" 2>/dev/null; then
      tail -n 20 "${RUN_DIR}/${name}.log" >&2 || true
      die "${name} exited; its log is above"
    fi
    if (( SECONDS >= deadline )); then
      tail -n 20 "${RUN_DIR}/${name}.log" >&2 || true
      die "${name} not ready at ${url} within ${timeout}s; its log is above"
    fi
    sleep 0.5
  done
  say "${name} ready ($(since "$t0")s since make run started)"
}

command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
for addr in "$INGEST_ADDR" "$PROCESSOR_HTTP" "$API_ADDR"; do
  if port_open "$(port_of_addr "$addr")"; then
    die "port $(port_of_addr "$addr") is in use: another make run? stop it, or set ASSAY_INGEST_ADDR / ASSAY_PROCESSOR_HTTP / ASSAY_API_ADDR"
  fi
done
[[ -x bin/assay && -x bin/ingest && -x bin/processor && -x bin/api ]] || die "binaries missing: run 'make run' (it builds them) or 'make build'"
mkdir -p "${RUN_DIR}"

# The stack comes up under this run's own owner, so Ctrl-C stops only the servers this run
# started: ones that already answered (another checkout, a test run) are used and left running.
export ASSAY_STACK_OWNER="run-$$"
stack_up=1
ops/stack.sh up
bin/assay admin migrate
bin/assay admin topics

# The demo's principals, fresh for this run: their lines (token hashes only) in the principals
# file the gateway and the API read, their tokens beside it for the demo (mode 0600), both
# under .data/run/. Beside them, the dashboard's reader: an analyst of every project (the demo's
# own analyst reads its project only, so it would not see the pipeline's lag), its token kept
# in dashboard-token (0600) and printed below: a local demo's secret.
PRINCIPALS_DIR="${RUN_DIR}/principals"
rm -rf -- "${PRINCIPALS_DIR}"
bin/assay demo -setup "${PRINCIPALS_DIR}" -project "$PROJECT" >/dev/null
(umask 077 && bin/assay token create -role analyst -projects '*' -id demo-dashboard -add-to "${PRINCIPALS_DIR}/principals" 2>/dev/null |
  sed -n 1p >"${PRINCIPALS_DIR}/dashboard-token") || die "could not create the dashboard's token (bin/assay token create)"
dashboard_token="$(<"${PRINCIPALS_DIR}/dashboard-token")"
vendor_token="$(awk '$1 ~ /^demo-vendor-/ { print $1 " " $2; exit }' "${PRINCIPALS_DIR}/demo-tokens")"

# Every processor that the registry knows and that runs without configuration of its own: the
# ledger, each kpi_* processor, lineage, and the router (with its built-in rules unless
# ASSAY_ROUTER_RULES names a rules file; it decides on the demo's model pre-labels). The list
# comes from the binary, so kpi_* processors added later join without editing this script.
known="$( (bin/processor -processors __list__ 2>&1 || true) | sed -n 's/.*(known: \(.*\))/\1/p')"
procs=""
for p in ${known//,/ }; do
  case "$p" in ledger|kpi_*|lineage|router) procs="${procs:+$procs,}$p" ;; esac
done
[[ -n "$procs" ]] || die "could not read the processor names from bin/processor"

start ingest bin/ingest -addr "$INGEST_ADDR" -principals-file "${PRINCIPALS_DIR}/principals"
# -gate: the quality gate judges every committed dataset version (one instance runs it).
start processor bin/processor -processors "$procs" -gate -http "$PROCESSOR_HTTP"
# The API reads the consumer lag of the processors started above from the broker, and
# authenticates its readers with the same principals file.
start api bin/api -addr "$API_ADDR" -lag-processors "$procs" -principals-file "${PRINCIPALS_DIR}/principals"
wait_ready ingest "http://${INGEST_ADDR}/readyz" 60
wait_ready processor "http://${PROCESSOR_HTTP}/readyz" 120
wait_ready api "http://${API_ADDR}/readyz" 60

start demo bin/assay demo -url "http://${INGEST_ADDR}" -api-url "http://${API_ADDR}" -tokens "${PRINCIPALS_DIR}/demo-tokens" \
  -rate "$DEMO_RATE" -seed "$DEMO_SEED" -duration "$DEMO_DURATION" -project "$PROJECT"

# Wait until the dashboard has figures: agreement and accuracy computed by the processors. The
# token goes to curl in a config read from a pipe, so it shows in no process's arguments.
deadline=$((SECONDS + 180))
until curl -fsS --max-time 5 -K <(printf 'header = "Authorization: Bearer %s"\n' "$dashboard_token") \
    "http://${API_ADDR}/v1/kpis?project=${PROJECT}" 2>/dev/null \
    | tr -d ' \n' | grep -q '"accuracy":{"accuracy":[0-9]'; do
  if ! kill -0 "$(pid_of demo)" 2>/dev/null; then
    tail -n 20 "${RUN_DIR}/demo.log" >&2 || true
    die "the demo exited early; its log is above"
  fi
  (( SECONDS < deadline )) || die "no KPIs after 180s; see the logs in .data/run/"
  sleep 1
done
ready_s="$(since "$t0")"

ch_addr="${ASSAY_CLICKHOUSE_ADDR:-127.0.0.1:19000}"
ch_addr="${ch_addr%%,*}"
cat <<MSG

Assay is running: dashboard with live KPIs after ${ready_s}s

  Dashboard   http://${API_ADDR}/   (charts sampled since the API started); sign in with a read token,
              kept for the browser tab only (local demo tokens: every one is in .data/run/principals/):
                analyst, every figure of every project:   ${dashboard_token}
                ${vendor_token%% *}, its own annotators:   ${vendor_token#* }
  KPI API     curl -H "Authorization: Bearer \$(cat .data/run/principals/dashboard-token)" \\
                http://${API_ADDR}/v1/kpis?project=${PROJECT}   (also /v1/whoami, /v1/agreement, /v1/annotators,
              /v1/coverage, /v1/remediation, /v1/cycle, /v1/routing, /v1/lineage/<dataset>/<version>,
              /v1/gate, /v1/alerts; /v1/regions?project=${PROJECT}-ner, /v1/preferences?project=${PROJECT}-preference;
              /metrics open)
  Ingest      http://${INGEST_ADDR}/v1/events   (principals: .data/run/principals/principals,
              the demo's tokens beside it; bin/assay token list -principals-file <it>)
  Processors  ${procs}   (metrics http://${PROCESSOR_HTTP}/metrics)
  Kafka       ${ASSAY_KAFKA_BROKERS:-127.0.0.1:19092}
  ClickHouse  ${ch_addr} (database ${ASSAY_CLICKHOUSE_DATABASE:-assay}; read-only, as analysts query it:
              clickhouse-client --host ${ch_addr%:*} --port ${ch_addr##*:} --user analyst)
  Logs        .data/run/{ingest,processor,api,demo}.log

MSG

# The demo prints the project's KPIs after its first program (a few tens of seconds); show
# them once they are there. The dashboard is already live meanwhile.
for _ in $(seq 1 120); do
  grep -q '^KPIs of project' "${RUN_DIR}/demo.log" && break
  kill -0 "$(pid_of demo)" 2>/dev/null || break
  sleep 1
done
sed -n '/^KPIs of project/,/^demo:/p' "${RUN_DIR}/demo.log" | grep -v '^demo:' || true
echo
echo "The demo keeps playing programs (${DEMO_RATE} events/s). Press Ctrl-C to stop everything."

# Wait for the demo to end (ASSAY_DEMO_DURATION) or for Ctrl-C; the services keep serving.
demo_pid="$(pid_of demo)"
while kill -0 "$demo_pid" 2>/dev/null; do sleep 1 & wait $! || true; done
wait "$demo_pid" && say "the demo finished; the services keep running until Ctrl-C" || say "the demo exited with an error: see .data/run/demo.log"
while true; do sleep 3600 & wait $! || true; done
