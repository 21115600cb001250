#!/usr/bin/env bash
# The local Kafka broker: one KRaft node (broker and controller) on loopback, built from Maven
# Central artifacts (ops/kafka/pom.xml), state under .data/kafka.
#
#   ops/kafka/kafka.sh start      collect jars if needed, format once, start, wait until ready
#   ops/kafka/kafka.sh stop       SIGTERM by pid, SIGKILL after a timeout
#   ops/kafka/kafka.sh status     exit 0 when running and answering on its port
#   ops/kafka/kafka.sh logs [-f]  last lines of the broker log (-f follows)
#   ops/kafka/kafka.sh topics ... org.apache.kafka.tools.TopicCommand against this broker
#                                 (e.g. `topics --list`, `topics --describe --topic x`)
#   ops/kafka/kafka.sh libs       collect the jars if needed and print their directory (the
#                                 tests' private brokers use them even when the shared Kafka
#                                 is someone else's: make test sets ASSAY_KAFKA_LIBS from it)
#
# Environment (all optional):
#   ASSAY_KAFKA_PORT             client listener, default 19092
#   ASSAY_KAFKA_CONTROLLER_PORT  controller listener, default 19093
#   ASSAY_KAFKA_HEAP             broker heap (-Xmx), default 512m
#   ASSAY_KAFKA_START_TIMEOUT    seconds to wait for readiness, default 120
set -euo pipefail

LOG_PREFIX="kafka"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"

PORT="${ASSAY_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${ASSAY_KAFKA_CONTROLLER_PORT:-19093}"
HEAP="${ASSAY_KAFKA_HEAP:-512m}"
START_TIMEOUT="${ASSAY_KAFKA_START_TIMEOUT:-120}"

POM="${ASSAY_ROOT}/ops/kafka/pom.xml"
DIR="${ASSAY_DATA}/kafka"
LIBS="${DIR}/libs"
CONF="${DIR}/server.properties" # its absolute path is also the marker that identifies our pid
LOG4J="${DIR}/log4j2.properties"
TOOLS_LOG4J="${DIR}/tools-log4j2.properties" # tool JVMs: warnings to stderr, not into server.log
LOGS="${DIR}/logs"
LOGFILE="${LOGS}/server.log"
OUTFILE="${LOGS}/stdout.log"    # JVM output that bypasses log4j (crashes, early errors)
KRAFT="${DIR}/kraft"            # log.dirs: topic data and the cluster metadata log
PIDFILE="${DIR}/kafka.pid"
LOCK="${DIR}/.lock"
OUT_FROM=0 # sizes of the log files before this start, for failure messages
LOG_FROM=0

# Tool JVMs are short-lived; C1 only and the serial collector make them start noticeably faster.
# TOOL_TIMEOUT (seconds) bounds a call that would otherwise retry for the admin client's 60 s.
tool() {
  timeout "${TOOL_TIMEOUT:-300}" java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto \
    -Dlog4j2.configurationFile="${TOOLS_LOG4J}" -cp "${LIBS}/*" "$@"
}

# server.properties and log4j2.properties are rewritten on every start, so a change to this
# script (or to the port variables) takes effect on the next start without wiping data.
write_config() {
  mkdir -p -- "${LOGS}" "${KRAFT}"
  cat >"${CONF}" <<EOF
# Written by ops/kafka/kafka.sh on every start; edit the script, not this file.
# One KRaft node that is both broker and controller, on loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${KRAFT}

# A single node can only hold one replica of anything, internal topics included.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Internal topics with 50 partitions (the default) make the first consumer group and the first
# transactional producer of a fresh broker wait for 50 partitions to be created; a few suffice
# on one node.
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4

# Groups form at once instead of waiting 3 s for more members (tests create many groups).
group.initial.rebalance.delay.ms=0
# Topics are created explicitly, with their settings, by the Go code (ops topic definitions);
# a typo in a topic name must fail instead of silently creating a topic with broker defaults.
auto.create.topics.enable=false
num.partitions=1
EOF

  cat >"${LOG4J}" <<EOF
# Written by ops/kafka/kafka.sh on every start. Everything goes to one rolling file.
status = warn
name = assay-kafka
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${LOGFILE}
appender.file.filePattern = ${LOGS}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
# Per-request and per-partition state chatter is noise on a development broker.
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF

  # Short-lived tool JVMs (format, readiness check, `topics`) must not write into the broker's
  # log file: two processes rolling one file corrupt it. They print warnings to stderr instead.
  cat >"${TOOLS_LOG4J}" <<EOF
# Written by ops/kafka/kafka.sh on every start.
status = warn
name = assay-kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

# Format the storage once: a KRaft node refuses to start on an unformatted log dir. The cluster id
# is 16 random bytes in URL-safe base64 without padding (Kafka's Uuid text form), made here
# rather than with `StorageTool random-uuid` to save a JVM start on the first run.
ensure_formatted() {
  [[ -f "${KRAFT}/meta.properties" ]] && return 0
  local id out
  id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  say "formatting storage (cluster id ${id})"
  # No --standalone: it is refused together with a static controller.quorum.voters.
  if ! out="$(tool kafka.tools.StorageTool format --cluster-id="${id}" -c "${CONF}" 2>&1)"; then
    printf '%s\n' "${out}" >&2
    die "formatting ${KRAFT} failed"
  fi
}

running() {
  pid_alive "${PIDFILE}" "${CONF}"
}

# Ready means: the port accepts connections AND an admin client gets a metadata answer listing
# the broker. The port alone opens a moment before the broker is unfenced, when topic creation
# could still fail with "only 0 broker(s) are registered"; TopicCommand --list only returns once
# the metadata request succeeds against a live broker.
wait_ready() {
  local t0="$1" deadline=$(( SECONDS + START_TIMEOUT ))
  while (( SECONDS < deadline )); do
    if ! running; then
      show_log_tail "${OUTFILE}" 20 "${OUT_FROM}"
      show_log_tail "${LOGFILE}" 40 "${LOG_FROM}"
      die "the broker exited during startup (logs: ${LOGS})"
    fi
    if port_open "${PORT}"; then
      break
    fi
    sleep 0.2
  done
  while (( SECONDS < deadline )); do
    if TOOL_TIMEOUT=20 tool org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "127.0.0.1:${PORT}" --list >/dev/null 2>&1; then
      say "ready on 127.0.0.1:${PORT} after $(since "${t0}")s (pid $(<"${PIDFILE}"))"
      return 0
    fi
    running || break
    sleep 0.5
  done
  show_log_tail "${OUTFILE}" 20 "${OUT_FROM}"
  show_log_tail "${LOGFILE}" 40 "${LOG_FROM}"
  die "the broker did not become ready within ${START_TIMEOUT}s (logs: ${LOGS})"
}

do_start() {
  need_java
  if running; then
    say "already running (pid $(<"${PIDFILE}")) on 127.0.0.1:${PORT}"
    return 0
  fi
  if port_open "${PORT}" || port_open "${CONTROLLER_PORT}"; then
    die "port ${PORT} or ${CONTROLLER_PORT} is in use by another process (not ours: no live pid in ${PIDFILE}); stop it or set ASSAY_KAFKA_PORT / ASSAY_KAFKA_CONTROLLER_PORT"
  fi
  local t0
  t0="$(now_us)"
  mkdir -p -- "${DIR}"
  maven_libs "${POM}" "${LIBS}" "Kafka"
  write_config
  ensure_formatted
  OUT_FROM="$(file_size "${OUTFILE}")"
  LOG_FROM="$(file_size "${LOGFILE}")"
  mark_start "${OUTFILE}"
  # The same JVM flags as Kafka's own kafka-server-start.sh (G1 with short pauses), with a small
  # heap: a development broker needs little, and the page cache does the real work.
  launch "${PIDFILE}" "${OUTFILE}" \
    java "-Xmx${HEAP}" -Xms128m -server \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dkafka.logs.dir="${LOGS}" -Dlog4j2.configurationFile="${LOG4J}" \
    -cp "${LIBS}/*" kafka.Kafka "${CONF}"
  say "started pid $(<"${PIDFILE}"), waiting for readiness"
  wait_ready "${t0}"
}

do_stop() {
  # Controlled shutdown of a single node takes a few seconds; 30 s before SIGKILL is generous.
  stop_pid "kafka" "${PIDFILE}" "${CONF}" 30
}

do_status() {
  server_status "kafka" "${PIDFILE}" "${CONF}" "${PORT}"
}

do_logs() {
  server_log "${LOGFILE}" "$@"
}

do_topics() {
  need_java
  [[ -d "${LIBS}" ]] || die "no jars yet in ${LIBS}: run '$0 start' first"
  [[ -f "${TOOLS_LOG4J}" ]] || write_config
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:${PORT}" "$@"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "${cmd}" in
  start) with_lock "${LOCK}" do_start ;;
  stop) with_lock "${LOCK}" do_stop ;;
  status) do_status ;;
  logs) do_logs "$@" ;;
  topics) do_topics "$@" ;;
  libs) with_lock "${LOCK}" ensure_libs >&2 && printf '%s\n' "${LIBS}" ;;
  *) usage "${BASH_SOURCE[0]}" ;;
esac
