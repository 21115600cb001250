#!/usr/bin/env bash
# Installs SciPy (linear_sum_assignment, the reference for the optimal one-to-one matching),
# NumPy and pycocotools (COCO's own box IoU, maskUtils.iou) and the PyPI krippendorff package
# (nominal and ordinal alpha) into .data/scipy-venv, so the region-agreement tests
# (streams/regions) and the preference figures' tests (streams/preference, with SciPy's Wilson
# interval) can check Assay against implementations we did not write. Prints the venv's python path. Idempotent: does
# nothing when the pinned versions are present.
#
# The pins are the newest releases with wheels for the machine's Python 3.11 (SciPy 1.18 and
# NumPy 2.5 need 3.12); every one installs from a wheel, nothing is compiled.
set -euo pipefail
LOG_PREFIX="scipy"
# shellcheck source=ops/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../common.sh"
pins=(scipy==1.17.1 numpy==2.4.6 pycocotools==2.0.11 krippendorff==0.9.0)
venv="${ASSAY_DATA}/scipy-venv"
# ok: every pin is installed at its version.
check="all(__import__('importlib.metadata').metadata.version(n) == v for n, v in (p.split('==') for p in '${pins[*]}'.split()))"
if [[ -x "${venv}/bin/python" ]] && "${venv}/bin/python" -c "import sys; sys.exit(not (${check}))" 2>/dev/null; then
  echo "${venv}/bin/python"
  exit 0
fi
command -v python3 >/dev/null || die "setup: python3 is required"
python3 -m venv "${venv}" >&2 || die "setup: python3 -m venv failed (Debian: apt-get install python3-venv)"
"${venv}/bin/pip" install -q --disable-pip-version-check --only-binary=:all: "${pins[@]}" >&2 || die "setup: pip install ${pins[*]} failed"
"${venv}/bin/python" -c "import sys; sys.exit(not (${check}))" || die "setup: ${pins[*]} not all at their pinned versions after install"
echo "${venv}/bin/python"
