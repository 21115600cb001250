#!/usr/bin/env bash
# `make run`: brings up the real local stack, applies the ClickHouse schema and the Kafka
# topics, prints where everything is, and keeps running until Ctrl-C; then it stops only what
# it started. The services and the demo workload join here as they are built.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

cleanup() {
	trap - INT TERM EXIT
	echo
	echo "stopping what make run started..."
	ops/stack.sh down
}
trap cleanup INT TERM EXIT

ops/stack.sh up
bin/assay admin migrate
bin/assay admin topics

cat <<MSG

Assay local stack is up:
  Kafka       ${ASSAY_KAFKA_BROKERS:-127.0.0.1:19092}
  ClickHouse  ${ASSAY_CLICKHOUSE_ADDR:-127.0.0.1:19000} (database ${ASSAY_CLICKHOUSE_DATABASE:-assay}; clickhouse-client --port 19000)

Press Ctrl-C to stop.
MSG
while true; do sleep 3600 & wait $!; done
