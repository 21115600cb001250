#!/usr/bin/env bash
# Installs openlineage-python (OpenLineage's reference client, whose model classes are generated
# from the spec's JSON schema) into .data/openlineage-venv, so check.py can prove the lineage
# export valid. Prints the venv's python path. Idempotent: does nothing when the pinned version
# is present.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.data/openlineage-venv"
version="1.54.0"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('openlineage-python') != '$version')" 2>/dev/null; then
	echo "$venv/bin/python"
	exit 0
fi
command -v python3 >/dev/null || { echo "openlineage setup: python3 is required" >&2; exit 1; }
python3 -m venv "$venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check "openlineage-python==$version" >&2
echo "$venv/bin/python"
