"""Reference region matching for streams/regions: IoU and the optimal one-to-one matching
computed by code Assay did not write.

The Go test streams/regions/reference_test.go (through scipy.Run, scipy.go next to this file)
writes cases as JSON on stdin and compares the answers with its own. For each case:

  - the IoU of every pair: spans with NumPy, from the definition (intersection length over
    union length, half-open [start, end)); boxes with COCO's own pycocotools.mask.iou
    (bbIou, the box IoU of the COCO evaluation), iscrowd all 0;
  - eligibility: IoU >= t, and the same label unless the rule is "any";
  - the optimum of the lexicographic objective streams/regions documents (total micro-IoU,
    then matched pairs, then same-label pairs) with scipy.optimize.linear_sum_assignment on
    integer weights ((micro*(K+1) + 1)*(K+1) + same, 0 where not eligible, K = min(n, m)),
    exact in float64 at these sizes; the pairs of weight 0 are dropped;
  - the optimum of the plain float objective (total IoU), to bound what rounding IoU to
    millionths costs.

input:  {"cases": [{"kind": "spans"|"boxes", "t": 0.5, "rule": "same"|"any",
                    "a": [[label, start, end] | [label, x, y, w, h], ...], "b": [...]}, ...]}
output: {"versions": {...}, "results": [{"iou": [[...], ...], "micro": M, "pairs": P,
                                         "same": S, "float_total": F}, ...]}
"""

import importlib.metadata
import json
import math
import sys

import numpy as np
from pycocotools import mask as mask_utils
from scipy.optimize import linear_sum_assignment


def span_iou(a, b):
    s1 = np.array([r[1] for r in a], dtype=np.float64)[:, None]
    e1 = np.array([r[2] for r in a], dtype=np.float64)[:, None]
    s2 = np.array([r[1] for r in b], dtype=np.float64)[None, :]
    e2 = np.array([r[2] for r in b], dtype=np.float64)[None, :]
    inter = np.clip(np.minimum(e1, e2) - np.maximum(s1, s2), 0, None)
    union = (e1 - s1) + (e2 - s2) - inter
    return np.where(inter > 0, inter / np.where(union > 0, union, 1), 0.0)


def box_iou(a, b):
    dt = np.array([r[1:5] for r in a], dtype=np.float64)
    gt = np.array([r[1:5] for r in b], dtype=np.float64)
    return np.asarray(mask_utils.iou(dt, gt, [0] * len(b)), dtype=np.float64).reshape(len(a), len(b))


def solve(case):
    a, b, t = case["a"], case["b"], case["t"]
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return {"iou": [[] for _ in a], "micro": 0, "pairs": 0, "same": 0, "float_total": 0.0}
    iou = span_iou(a, b) if case["kind"] == "spans" else box_iou(a, b)
    same = np.array([[ra[0] == rb[0] for rb in b] for ra in a])
    eligible = iou >= t
    if case["rule"] == "same":
        eligible &= same
    micro = np.floor(iou * 1_000_000 + 0.5).astype(np.int64)
    k = min(n, m)
    weight = np.where(eligible, (micro * (k + 1) + 1) * (k + 1) + same.astype(np.int64), 0)
    assert weight.max() * k < 2**53, "weights too large to be exact in float64"
    rows, cols = linear_sum_assignment(weight.astype(np.float64), maximize=True)
    kept = [(r, c) for r, c in zip(rows, cols) if weight[r, c] > 0]
    frows, fcols = linear_sum_assignment(np.where(eligible, iou, 0.0), maximize=True)
    return {
        "iou": iou.tolist(),
        "micro": int(sum(micro[r, c] for r, c in kept)),
        "pairs": len(kept),
        "same": int(sum(same[r, c] for r, c in kept)),
        "float_total": float(sum(iou[r, c] for r, c in zip(frows, fcols) if eligible[r, c])),
    }


def main():
    cases = json.load(sys.stdin)["cases"]
    versions = {p: importlib.metadata.version(p) for p in ("scipy", "numpy", "pycocotools")}
    json.dump({"versions": versions, "results": [solve(c) for c in cases]}, sys.stdout)


if __name__ == "__main__":
    main()
