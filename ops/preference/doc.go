// Package preference checks streams/preference's figures against references we did not write:
// SciPy's Wilson interval (binomtest(...).proportion_ci(method="wilson")) and the PyPI
// "krippendorff" package's nominal and ordinal alpha. Tests hand Check a data set of preference
// labels, and check.py in this directory codes it as the package documentation of
// streams/preference states (sharing no code with it) and computes the figures with the
// references. ASSAY_SCIPY_PYTHON names a python with SciPy and krippendorff installed
// (ops/scipy/setup.sh makes one, shared with the region matching's checks, and prints its path;
// ops/checkers.sh, and so make test, sets it).
package preference
