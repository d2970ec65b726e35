import json
import sys

import numpy as np

rng = np.random.default_rng(3)
seqs = []
def jitter(b, s):
    return [round(float(b[0] + rng.normal(0, s)), 2), round(float(b[1] + rng.normal(0, s)), 2),
            round(float(max(1.0, b[2] * (1 + rng.normal(0, 0.15)))), 2), round(float(max(1.0, b[3] * (1 + rng.normal(0, 0.15)))), 2)]
# A: visible throughout, drifting tracker; frame 0 prediction is a grown init box (as OpenCV trackers give)
gt = [[20.0 + 3 * t, 15.0 + t, 12.0, 9.0] for t in range(8)]
pred = [[18.0, 14.0, 16.0, 11.0]] + [jitter(b, 2 + t) for t, b in enumerate(gt[1:], 1)]
seqs.append({"name": "a_drift", "gt": gt, "pred": pred})
# B: target absent on frames 3-4 (empty GT), tracker keeps reporting; one lost frame (None) while visible
gt = [[40.0, 30.0, 25.0, 20.0], [42.0, 31.0, 25.0, 21.0], [44.0, 33.0, 24.0, 20.0], None, None,
      [50.0, 36.0, 22.0, 19.0], [52.0, 37.0, 22.0, 18.0]]
pred = [[40.0, 30.0, 25.0, 20.0], jitter(gt[1], 1), jitter(gt[2], 3), [45.0, 34.0, 24.0, 20.0], None,
        None, jitter(gt[6], 4)]
seqs.append({"name": "b_absent", "gt": gt, "pred": pred})
# C: small object touching the left/top border (0-based x = 0, y = 0), sub-pixel predictions
gt = [[0.0, 0.0, 5.0, 4.0], [0.0, 1.0, 6.0, 4.0], [1.0, 0.0, 5.0, 5.0], [0.0, 0.0, 4.0, 4.0], [2.0, 2.0, 5.0, 4.0]]
pred = [None, [0.4, 0.3, 5.2, 4.1], [3.0, 2.5, 5.0, 5.0], [0.0, 0.0, 4.0, 4.0], [10.0, 10.0, 5.0, 4.0]]
seqs.append({"name": "c_border", "gt": gt, "pred": pred})
# D: lost from frame 2 on (far away), long-ish
gt = [[100.0 + t, 80.0, 30.0, 30.0] for t in range(10)]
pred = [jitter(gt[0], 1), jitter(gt[1], 1)] + [[5.0, 5.0, 30.0, 30.0]] * 8
seqs.append({"name": "d_lost", "gt": gt, "pred": pred})
json.dump({"sequences": seqs}, open(sys.argv[1], "w"), indent=None)
