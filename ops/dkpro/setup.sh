#!/usr/bin/env bash
# Collects DKPro Statistics' agreement module (ops/dkpro/pom.xml, from Maven Central) into
# .data/dkpro/libs, so the Go tests of ops/dkpro can check Assay's unitizing alpha with it
# (Check.java), and prints the Java classpath to export as ASSAY_DKPRO_CLASSPATH (make test
# does, through ops/checkers.sh). Idempotent: it runs Maven only when libs/ is missing or was
# collected from a different pom, like ops/avro/setup.sh (both use maven_libs of ops/common.sh).
set -euo pipefail
LOG_PREFIX="dkpro"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"

POM="${ASSAY_ROOT}/ops/dkpro/pom.xml"
DIR="${ASSAY_DATA}/dkpro"
LIBS="${DIR}/libs"

need_java

# Two setups at once (two terminals running make test) must not both replace libs/.
with_lock "${DIR}/.lock" maven_libs "${POM}" "${LIBS}" "DKPro Statistics"
echo "${LIBS}/*"
