#!/usr/bin/env bash
# Installs the statistics references the preference figures are checked against (SciPy, whose
# binomtest(...).proportion_ci(method="wilson") gives the Wilson score interval, and the PyPI
# "krippendorff" package, for nominal and ordinal alpha) into .data/stats-venv, so check.py can
# compute them. Prints the venv's python path. Idempotent: does nothing when the pinned versions
# are present. SciPy 1.17.1 is the last release for Python 3.11, the machines' python3.
# (common.sh's python_venv pins one package; this checker needs two.)
set -euo pipefail
LOG_PREFIX="stats"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
scipy="1.17.1"
krippendorff="0.9.0"
venv="${ASSAY_DATA}/stats-venv"
check="import importlib.metadata as m; import sys; sys.exit(not (m.version('scipy') == '${scipy}' and m.version('krippendorff') == '${krippendorff}'))"
if [[ -x "${venv}/bin/python" ]] && "${venv}/bin/python" -c "${check}" 2>/dev/null; then
  echo "${venv}/bin/python"
  exit 0
fi
command -v python3 >/dev/null || die "stats setup: python3 is required"
python3 -m venv "${venv}" >&2 || die "stats setup: python3 -m venv failed (Debian: apt-get install python3-venv)"
"${venv}/bin/pip" install -q --disable-pip-version-check "scipy==${scipy}" "krippendorff==${krippendorff}" >&2 ||
  die "stats setup: pip install scipy==${scipy} krippendorff==${krippendorff} failed"
echo "${venv}/bin/python"
