#!/usr/bin/env bash
# Installs chdb (ClickHouse embedded in Python, a current release) into .data/chdb-venv, so
# the migrations can be checked against current ClickHouse as well as the 18.16 server.
# Prints the venv's python path. Idempotent: does nothing when the pinned version is present.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="$root/.data/chdb-venv"
version="26.9.0"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import chdb, sys; sys.exit(chdb.__version__ != '$version')" 2>/dev/null; then
	echo "$venv/bin/python"
	exit 0
fi
command -v python3 >/dev/null || { echo "chdb setup: python3 is required" >&2; exit 1; }
python3 -m venv "$venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check "chdb-core==$version" >&2
echo "$venv/bin/python"
