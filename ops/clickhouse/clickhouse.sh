#!/usr/bin/env bash
# The local ClickHouse server (Debian's clickhouse-server package, 18.16 on bookworm) on loopback,
# with a config of our own and all state under .data/clickhouse.
#
#   ops/clickhouse/clickhouse.sh start      install the package if needed, start, wait for SELECT 1
#   ops/clickhouse/clickhouse.sh stop       SIGTERM by pid, SIGKILL after a timeout
#   ops/clickhouse/clickhouse.sh status     exit 0 when running and answering on its port
#   ops/clickhouse/clickhouse.sh logs [-f]  last lines of the server log (-f follows)
#   ops/clickhouse/clickhouse.sh client ... clickhouse-client against this server
#                                           (e.g. `client -q 'SELECT version()'`; as the
#                                           read-only analyst: `client -u analyst`)
#
# Users: "default" (no password, loopback; what the services use) and the read-only "analyst"
# of users.d/ in this directory (readonly=1, loopback; README, "Analysts on ClickHouse").
#
# Environment (all optional):
#   ASSAY_CLICKHOUSE_PORT           native protocol, default 19000
#   ASSAY_CLICKHOUSE_HTTP_PORT      HTTP interface, default 18123
#   ASSAY_CLICKHOUSE_START_TIMEOUT  seconds to wait for readiness, default 120
#   ASSAY_CLICKHOUSE_DIR            state directory (config, data, logs, pid), default
#                                   .data/clickhouse; a test's private server uses its own
set -euo pipefail

LOG_PREFIX="clickhouse"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"

PORT="${ASSAY_CLICKHOUSE_PORT:-19000}"
HTTP_PORT="${ASSAY_CLICKHOUSE_HTTP_PORT:-18123}"
START_TIMEOUT="${ASSAY_CLICKHOUSE_START_TIMEOUT:-120}"

DIR="${ASSAY_CLICKHOUSE_DIR:-${ASSAY_DATA}/clickhouse}"
USERS_D_SRC="${ASSAY_ROOT}/ops/clickhouse/users.d"
CONF="${DIR}/config.xml" # its absolute path is also the marker that identifies our pid
USERS="${DIR}/users.xml"
LOGS="${DIR}/logs"
LOGFILE="${LOGS}/server.log"
ERRFILE="${LOGS}/err.log"
OUTFILE="${LOGS}/stdout.log" # what the server prints before its logger is up (config errors)
PIDFILE="${DIR}/clickhouse.pid"
LOCK="${DIR}/.lock"
OUT_FROM=0 # sizes of the log files before this start, for failure messages
LOG_FROM=0

# The Debian package puts the server in /usr/sbin, which is not on every user's PATH.
server_bin() {
  local b
  for b in "$(command -v clickhouse-server 2>/dev/null || true)" /usr/sbin/clickhouse-server \
    /usr/bin/clickhouse-server; do
    [[ -n "$b" && -x "$b" ]] && { printf '%s' "$b"; return 0; }
  done
  return 1
}

# Install server and client from the distribution when the server binary is missing. The package
# neither needs nor gets a service of its own: we run the binary with our config.
ensure_installed() {
  server_bin >/dev/null && command -v clickhouse-client >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "clickhouse-server is not installed and apt-get is not available to install it; install ClickHouse (server and client) by other means"
  [[ "$(id -u)" == 0 ]] ||
    die "clickhouse-server is not installed; run as root or first: sudo apt-get install -y clickhouse-server clickhouse-client"
  local t0 aptlog
  t0="$(now_us)"
  aptlog="${DIR}/apt.log"
  say "installing clickhouse-server and clickhouse-client with apt-get"
  # update first: on a fresh machine the package lists may be empty or stale.
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      clickhouse-server clickhouse-client; } >"${aptlog}" 2>&1; then
    show_log_tail "${aptlog}" 30
    die "apt-get could not install clickhouse-server (full output: ${aptlog})"
  fi
  server_bin >/dev/null || die "apt-get succeeded but no clickhouse-server binary was found"
  say "installed $(dpkg-query -W -f='${Version}' clickhouse-server 2>/dev/null || echo '?') in $(since "${t0}")s"
}

# Rewritten on every start so that a change here (or to the port variables) takes effect on the
# next start without touching data. 18.16 reads <yandex> as the root element (current releases
# accept it too). The server listens on loopback only; no interserver port, no ZooKeeper.
write_config() {
  mkdir -p -- "${LOGS}" "${DIR}/data" "${DIR}/tmp" "${DIR}/user_files" "${DIR}/format_schemas"
  cat >"${CONF}" <<EOF
<?xml version="1.0"?>
<!-- Written by ops/clickhouse/clickhouse.sh on every start; edit the script, not this file. -->
<yandex>
  <logger>
    <level>information</level>
    <log>${LOGFILE}</log>
    <errorlog>${ERRFILE}</errorlog>
    <size>50M</size>
    <count>3</count>
  </logger>
  <http_port>${HTTP_PORT}</http_port>
  <tcp_port>${PORT}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${DIR}/data/</path>
  <tmp_path>${DIR}/tmp/</tmp_path>
  <user_files_path>${DIR}/user_files/</user_files_path>
  <format_schema_path>${DIR}/format_schemas/</format_schema_path>
  <users_config>${USERS}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>536870912</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
EOF

  # Our own users.xml (not /etc/clickhouse-server/users.xml) so the setup does not depend on what
  # an installed package or an administrator left there: user "default", no password, loopback.
  cat >"${USERS}" <<'EOF'
<?xml version="1.0"?>
<!-- Written by ops/clickhouse/clickhouse.sh on every start; edit the script, not this file. -->
<yandex>
  <profiles>
    <default>
      <max_memory_usage>10000000000</max_memory_usage>
      <use_uncompressed_cache>0</use_uncompressed_cache>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks>
        <ip>127.0.0.1</ip>
        <ip>::1</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
EOF

  # The users Assay ships beside "default" (the read-only analyst), copied afresh on every
  # start: the server merges users.d/*.xml next to its users.xml into it (18.16 and current
  # releases alike), and reloads them when they change.
  rm -rf -- "${DIR}/users.d"
  mkdir -p -- "${DIR}/users.d"
  cp -- "${USERS_D_SRC}"/*.xml "${DIR}/users.d/"
}

running() {
  pid_alive "${PIDFILE}" "${CONF}"
}

# Ready means the HTTP interface answers SELECT 1: the server opens its HTTP and native listeners
# together, after loading its metadata. curl is cheaper than a clickhouse-client start per poll,
# and unlike a bare connect to the native port it does not log "Client has not sent any data".
select1() {
  [[ "$(curl -fsS --max-time 2 "http://127.0.0.1:${HTTP_PORT}/?query=SELECT%201" 2>/dev/null)" == 1 ]]
}

wait_ready() {
  local t0="$1" deadline=$(( SECONDS + START_TIMEOUT ))
  while (( SECONDS < deadline )); do
    if select1; then
      say "ready on 127.0.0.1:${PORT} (http ${HTTP_PORT}) after $(since "${t0}")s (pid $(<"${PIDFILE}"))"
      return 0
    fi
    if ! running; then
      show_log_tail "${OUTFILE}" 20 "${OUT_FROM}"
      show_log_tail "${ERRFILE}" 40 "${LOG_FROM}"
      die "the server exited during startup (logs: ${LOGS})"
    fi
    sleep 0.2
  done
  show_log_tail "${OUTFILE}" 20 "${OUT_FROM}"
  show_log_tail "${ERRFILE}" 40 "${LOG_FROM}"
  die "the server did not answer SELECT 1 within ${START_TIMEOUT}s (logs: ${LOGS})"
}

do_start() {
  command -v curl >/dev/null 2>&1 || die "curl not found on PATH (used for the readiness check)"
  if running; then
    say "already running (pid $(<"${PIDFILE}")) on 127.0.0.1:${PORT}"
    return 0
  fi
  if port_open "${PORT}" || port_open "${HTTP_PORT}"; then
    die "port ${PORT} or ${HTTP_PORT} is in use by another process (not ours: no live pid in ${PIDFILE}); stop it or set ASSAY_CLICKHOUSE_PORT / ASSAY_CLICKHOUSE_HTTP_PORT"
  fi
  local t0 bin
  t0="$(now_us)"
  mkdir -p -- "${DIR}"
  ensure_installed
  bin="$(server_bin)"
  write_config
  OUT_FROM="$(file_size "${OUTFILE}")"
  LOG_FROM="$(file_size "${ERRFILE}")"
  mark_start "${OUTFILE}"
  # Run in the foreground of its own session (no --daemon): the pid we record is the server's,
  # and there is no watchdog process in between.
  launch "${PIDFILE}" "${OUTFILE}" "${bin}" --config-file="${CONF}"
  say "started pid $(<"${PIDFILE}"), waiting for SELECT 1"
  wait_ready "${t0}"
}

do_stop() {
  # Shutdown waits for running queries and merges; 60 s before SIGKILL.
  stop_pid "clickhouse" "${PIDFILE}" "${CONF}" 60
}

do_status() {
  server_status "clickhouse" "${PIDFILE}" "${CONF}" "${PORT}" "(http ${HTTP_PORT})"
}

do_logs() {
  server_log "${LOGFILE}" "$@"
}

do_client() {
  command -v clickhouse-client >/dev/null 2>&1 ||
    die "clickhouse-client is not installed: run '$0 start' (installs it) or apt-get install -y clickhouse-client"
  exec clickhouse-client --host 127.0.0.1 --port "${PORT}" "$@"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "${cmd}" in
  start) with_lock "${LOCK}" do_start ;;
  stop) with_lock "${LOCK}" do_stop ;;
  status) do_status ;;
  logs) do_logs "$@" ;;
  client) do_client "$@" ;;
  *) usage "${BASH_SOURCE[0]}" ;;
esac
