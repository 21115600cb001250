// Package scipy runs reference computations in Python with SciPy, NumPy and pycocotools
// (COCO's own API), implementations Assay did not write: regions.py computes region IoU and
// the optimal one-to-one matching (scipy.optimize.linear_sum_assignment) for
// streams/regions' reference test. ASSAY_SCIPY_PYTHON names a python with them installed
// (setup.sh in this directory makes one and prints its path; ops/checkers.sh sets it).
package scipy
