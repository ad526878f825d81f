"""What a per-user calibration can remove, from `foveal eval --predictions FILE` (JSON lines).

Per device family, on the dots after each recording's first 13 (the test dots of `eval --calibrate
13`): the uncorrected error; the error after a perfect offset and a perfect affine map (fitted on
all of the recording's dots, test dots included: bounds no calibration from 13 dots reaches); the
error after the offset and the affine map of the first 13 dots (least squares, what `eval
--calibrate 13` mostly chooses, without its penalty and outlier rule), also by test dot in time
(the 1st, 2nd, ... dot after the 13); and the median within-recording slope of prediction on
target (x, y), how much of the gaze movement within a recording the network follows.

Usage: python3 experiments/within_recording.py PREDICTIONS.jsonl   (numpy only)
"""
import collections
import json
import sys

import numpy as np


def affine(p, t, fit=None):
    """The least-squares map t ~ A [p; 1] over the rows `fit` (all by default), applied to p."""
    x = np.c_[p, np.ones(len(p))]
    fit = np.ones(len(p), bool) if fit is None else fit
    return x @ np.linalg.lstsq(x[fit], t[fit], rcond=None)[0]


def main(path):
    recordings = collections.defaultdict(list)
    for line in open(path):
        row = json.loads(line)
        recordings[row["recording"]].append(row)
    errors = collections.defaultdict(lambda: collections.defaultdict(list))
    slopes = collections.defaultdict(list)
    by_test_dot = collections.defaultdict(lambda: collections.defaultdict(list))
    for rows in recordings.values():
        family = rows[0]["family"]
        t = np.array([r["target_cm"] for r in rows])
        p = np.array([r["predicted_cm"] for r in rows])
        dot = np.array([r["dot"] for r in rows])
        dots = sorted(set(dot))
        if len(dots) <= 13:
            continue
        calibration = np.isin(dot, dots[:13])
        test = ~calibration

        def add(name, corrected):
            errors[family][name] += list(np.linalg.norm(corrected[test] - t[test], axis=1))

        add("uncorrected", p)
        add("perfect offset (all dots)", p + (t - p).mean(0))
        add("perfect affine (all dots)", affine(p, t))
        add("offset of the first 13 dots", p + (t[calibration] - p[calibration]).mean(0))
        corrected = affine(p, t, calibration)
        add("affine of the first 13 dots", corrected)
        for i, d in enumerate(dots[13:]):
            by_test_dot[family][i] += list(np.linalg.norm(corrected[dot == d] - t[dot == d], axis=1))
        tc, pc = t - t.mean(0), p - p.mean(0)
        slopes[family].append((tc * pc).sum(0) / (tc * tc).sum(0))
    for family in sorted(errors):
        base = np.mean(errors[family]["uncorrected"])
        print(f"{family}: {len(slopes[family])} recordings")
        for name, values in errors[family].items():
            print(f"  {name:30s} {np.mean(values):.3f} cm  {100 * (np.mean(values) / base - 1):+.1f}%")
        after = by_test_dot[family]
        print("  affine of the first 13 dots, by test dot:", " ".join(f"{np.mean(after[i]):.2f}" for i in sorted(after)))
        s = np.array(slopes[family])
        print(f"  within-recording slope of prediction on target: x {np.median(s[:, 0]):.2f}, y {np.median(s[:, 1]):.2f}")


if __name__ == "__main__":
    main(sys.argv[1])
