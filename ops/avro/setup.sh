#!/usr/bin/env bash
# Collects Apache Avro for Java (ops/avro/pom.xml, from Maven Central) into .data/avro/libs, so
# the Go tests of ops/avro can check Assay's schemas and records with it (Check.java), and prints
# the Java classpath to export as ASSAY_AVRO_CLASSPATH (make test does). Idempotent: it runs
# Maven only when libs/ is missing or was collected from a different pom, like ops/kafka/kafka.sh
# (both use maven_libs of ops/common.sh).
set -euo pipefail
LOG_PREFIX="avro"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"

POM="${ASSAY_ROOT}/ops/avro/pom.xml"
DIR="${ASSAY_DATA}/avro"
LIBS="${DIR}/libs"

need_java

# Two setups at once (two terminals running make test) must not both replace libs/.
with_lock "${DIR}/.lock" maven_libs "${POM}" "${LIBS}" "Apache Avro"
echo "${LIBS}/*"
