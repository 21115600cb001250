"""Compute the preference figures of a data set with references we did not write.

The Go helper preference.Check (preference.go, next to this file) writes a data set to a file
and runs this script on it with the python that setup.sh installs SciPy and the PyPI
"krippendorff" package into. The script restates the coding of streams/preference's package
documentation from scratch (it shares no code with it) and hands the computing to the references:

- nominal alpha: krippendorff.alpha on the chosen response's index in the item's canonical order;
- ordinal alpha: krippendorff.alpha over the 2S ranks (choice 0 with strength s is rank S-s,
  choice 1 is rank S-1+s), for items of exactly two responses and labels with a strength;
- position bias: choices of the first-shown response out of the labels, per annotator and for
  everyone, with the Wilson interval of scipy.stats.binomtest(...).proportion_ci(method="wilson")
  and the no-bias expectation, the mean of 1/k over the labels (as an exact fraction);
- Wilson intervals for a list of (successes, trials).

usage: python check.py DATA.json
DATA.json: {"scale": S or 0, "confidence": 0.95,
            "labels": [{"item": ..., "annotator": ..., "value": {"responses": [...], "choice": ...,
                        "shown_first": ..., "strength": ...}}, ...],
            "intervals": [[successes, trials], ...]}
prints one JSON object: {"client": ..., "nominal_alpha": ..., "ordinal_alpha": ...,
                         "bias": {ANNOTATOR or "": {"first_chosen", "labels", "expected",
                                  "expected_num", "expected_den", "low", "high", "excludes"}},
                         "intervals": [{"successes", "trials", "low", "high"}]}
(an alpha is null when undefined) or {"client": ..., "error": ...} and exits 1.
"""

import importlib.metadata
import json
import math
import sys
from fractions import Fraction

import krippendorff
import numpy as np
from scipy.stats import binomtest


def client():
    return "scipy %s, krippendorff %s" % (
        importlib.metadata.version("scipy"),
        importlib.metadata.version("krippendorff"),
    )


def wilson(successes, trials, confidence):
    ci = binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def alpha(matrix, domain, level):
    """Krippendorff's alpha of annotators x units (NaN = no value), or None when undefined."""
    if not matrix:
        return None
    data = np.array(matrix, dtype=float)
    # Only units with two or more values are pairable; with fewer than two such units, or one
    # value everywhere, alpha is undefined (the package then raises or returns NaN).
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if pairable.sum() == 0:
        return None
    values = data[:, pairable]
    if len(np.unique(values[~np.isnan(values)])) < 2:
        return None
    a = krippendorff.alpha(reliability_data=data, value_domain=domain, level_of_measurement=level)
    return None if math.isnan(a) else float(a)


def main(path):
    with open(path) as f:
        data = json.load(f)
    scale = data.get("scale") or 0
    confidence = data.get("confidence", 0.95)
    labels = data["labels"]

    items = sorted({l["item"] for l in labels})
    annotators = sorted({l["annotator"] for l in labels})
    col = {item: i for i, item in enumerate(items)}
    row = {a: i for i, a in enumerate(annotators)}
    nominal = [[math.nan] * len(items) for _ in annotators]
    ordinal = [[math.nan] * len(items) for _ in annotators]
    responses_of = {}
    max_k = 0
    for l in labels:
        v = l["value"]
        responses = v["responses"]
        if responses_of.setdefault(l["item"], responses) != responses:
            raise ValueError("item %s: responses %r differ from %r" % (l["item"], responses, responses_of[l["item"]]))
        r, c = row[l["annotator"]], col[l["item"]]
        if not math.isnan(nominal[r][c]):
            raise ValueError("item %s: two labels by %s" % (l["item"], l["annotator"]))
        index = responses.index(v["choice"])
        nominal[r][c] = index
        max_k = max(max_k, len(responses))
        s = v.get("strength")
        if scale and len(responses) == 2 and s is not None:
            ordinal[r][c] = scale - s if index == 0 else scale - 1 + s

    bias = {}
    for who in [""] + annotators:
        mine = [l["value"] for l in labels if who in ("", l["annotator"])]
        first = sum(1 for v in mine if v["choice"] == v["shown_first"])
        expected = sum((Fraction(1, len(v["responses"])) for v in mine), Fraction(0)) / len(mine)
        low, high = wilson(first, len(mine), confidence)
        bias[who] = {
            "first_chosen": first,
            "labels": len(mine),
            "expected": float(expected),
            "expected_num": expected.numerator,
            "expected_den": expected.denominator,
            "low": low,
            "high": high,
            "excludes": not (low <= expected <= high),
        }

    intervals = []
    for successes, trials in data.get("intervals", []):
        low, high = wilson(successes, trials, confidence)
        intervals.append({"successes": successes, "trials": trials, "low": low, "high": high})

    return {
        "client": client(),
        "nominal_alpha": alpha(nominal, list(range(max_k)), "nominal"),
        "ordinal_alpha": alpha(ordinal, list(range(2 * scale)), "ordinal") if scale else None,
        "bias": bias,
        "intervals": intervals,
    }


if __name__ == "__main__":
    try:
        out = main(sys.argv[1])
    except Exception as e:  # the Go side reports any failure with the script's message
        print(json.dumps({"client": client(), "error": "%s: %s" % (type(e).__name__, e)}))
        sys.exit(1)
    print(json.dumps(out))
