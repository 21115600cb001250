#!/usr/bin/env bash
# Installs chdb (ClickHouse embedded in Python, a current release) into .data/chdb-venv, so
# the migrations can be checked against current ClickHouse as well as the 18.16 server.
# Prints the venv's python path. Idempotent: does nothing when the pinned version is present.
set -euo pipefail
LOG_PREFIX="chdb"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../common.sh"
version="26.9.0"
python_venv chdb chdb-core "${version}" "__import__('chdb').__version__ == '${version}'"
