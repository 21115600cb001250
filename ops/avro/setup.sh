#!/usr/bin/env bash
# Collects Apache Avro for Java (ops/avro/pom.xml, from Maven Central) into .data/avro/libs, so
# the Go tests of ops/avro can check Assay's schemas and records with it (Check.java), and prints
# the Java classpath to export as ASSAY_AVRO_CLASSPATH (make test does). Idempotent: it runs
# Maven only when libs/ is missing or was collected from a different pom, like ops/kafka/kafka.sh.
set -euo pipefail
LOG_PREFIX="avro"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"

POM="${ASSAY_ROOT}/ops/avro/pom.xml"
DIR="${ASSAY_DATA}/avro"
LIBS="${DIR}/libs"
STAMP="${LIBS}/.pom.sha256" # inside libs/, so deleting libs/ also forgets the stamp

command -v java >/dev/null 2>&1 ||
  die "java not found on PATH: install a JDK 17+ (Debian: apt-get install -y openjdk-17-jdk-headless)"

# Jars go to a fresh directory that replaces libs/ only once complete, so an interrupted download
# never leaves a half classpath and a version bump never leaves old and new jars side by side.
ensure_libs() {
  local want have=""
  want="$(sha256sum "${POM}" | cut -d' ' -f1)"
  [[ -f "${STAMP}" ]] && have="$(<"${STAMP}")"
  if [[ -d "${LIBS}" && "${have}" == "${want}" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found on PATH: install Maven 3.8+ (Debian: apt-get install -y maven)"
  local t0 tmp mvnlog
  t0="$(now_us)"
  tmp="${DIR}/libs.tmp.$$"
  mvnlog="${DIR}/mvn.log"
  rm -rf -- "${tmp}"
  say "collecting Apache Avro jars with Maven (${POM#"${ASSAY_ROOT}"/})"
  if ! mvn -q -B -f "${POM}" dependency:copy-dependencies \
    -DoutputDirectory="${tmp}" >"${mvnlog}" 2>&1; then
    show_log_tail "${mvnlog}" 40
    rm -rf -- "${tmp}"
    die "Maven could not collect the Avro jars (full output: ${mvnlog})"
  fi
  printf '%s\n' "${want}" >"${tmp}/.pom.sha256"
  rm -rf -- "${LIBS}"
  mv -- "${tmp}" "${LIBS}"
  say "collected $(find "${LIBS}" -name '*.jar' | wc -l) jars in $(since "${t0}")s"
}

# Two setups at once (two terminals running make test) must not both replace libs/.
with_lock "${DIR}/.lock" ensure_libs
echo "${LIBS}/*"
