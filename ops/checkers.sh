#!/usr/bin/env bash
# Sets up every checker `make test` uses that we did not write, exports where each one is, and
# runs the rest of the command line with them:
#
#   ops/checkers.sh COMMAND [ARGS...]
#
#   ASSAY_CHDB_PYTHON         current ClickHouse embedded in Python (ops/clickhouse/chdb/setup.sh)
#   ASSAY_OPENLINEAGE_PYTHON  OpenLineage's reference client (ops/openlineage/setup.sh)
#   ASSAY_SCIPY_PYTHON        SciPy, NumPy, pycocotools and the PyPI krippendorff package, the
#                             references of the region and preference figures (ops/scipy/setup.sh)
#   ASSAY_AVRO_CLASSPATH      Apache Avro for Java from Maven Central (ops/avro/setup.sh)
#   ASSAY_DKPRO_CLASSPATH     DKPro Statistics (unitizing alpha) from Maven Central (ops/dkpro/setup.sh)
#   ASSAY_CHROMIUM            headless Chromium for the dashboard test (ops/browser/chromium.sh)
#   ASSAY_PROMTOOL            promtool for the alert rules' unit tests (ops/prometheus/promtool.sh)
#   ASSAY_KAFKA_LIBS          the broker's jars, for the tests' private brokers (ops/kafka/kafka.sh
#                             libs), also when the shared Kafka was started by someone else
#
# A checker that cannot be set up stops here with its script's message (exit 1): under
# ASSAY_INTEGRATION=1 the tests would fail without it anyway, later and less clearly.
set -euo pipefail

LOG_PREFIX="checkers"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

[[ $# -gt 0 ]] || usage "${BASH_SOURCE[0]}"

# setup VAR SCRIPT: VAR=$(SCRIPT), failing on its failure (`export VAR=$(cmd)` would return
# export's status and hide it).
setup() {
  local value
  # $2 is a script under the root and its arguments (word-split on purpose).
  # shellcheck disable=SC2086
  value="$("${ASSAY_ROOT}"/$2)" || die "$2 failed"
  export "$1=${value}"
}

setup ASSAY_CHDB_PYTHON ops/clickhouse/chdb/setup.sh
setup ASSAY_OPENLINEAGE_PYTHON ops/openlineage/setup.sh
setup ASSAY_SCIPY_PYTHON ops/scipy/setup.sh
setup ASSAY_AVRO_CLASSPATH ops/avro/setup.sh
setup ASSAY_DKPRO_CLASSPATH ops/dkpro/setup.sh
setup ASSAY_CHROMIUM ops/browser/chromium.sh
setup ASSAY_PROMTOOL ops/prometheus/promtool.sh
setup ASSAY_KAFKA_LIBS "ops/kafka/kafka.sh libs"
exec "$@"
