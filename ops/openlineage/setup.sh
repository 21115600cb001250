#!/usr/bin/env bash
# Installs openlineage-python (OpenLineage's reference client, whose model classes are generated
# from the spec's JSON schema) into .data/openlineage-venv, so check.py can prove the lineage
# export valid. Prints the venv's python path. Idempotent: does nothing when the pinned version
# is present.
set -euo pipefail
LOG_PREFIX="openlineage"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
version="1.54.0"
python_venv openlineage openlineage-python "${version}" "__import__('importlib.metadata').metadata.version('openlineage-python') == '${version}'"
