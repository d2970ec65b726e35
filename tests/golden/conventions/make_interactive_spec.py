import json
import sys

import numpy as np

rng = np.random.default_rng(11)
opts = {"max_interactions": 4, "seconds_per_object_interaction": 20.0, "time_threshold_s": 45.0}
def rounds(objects, times, counted, frames=3):
    out = []
    for i, (t, c) in enumerate(zip(times, counted), start=1):
        out.append({"interaction": i, "frame": i, "time_s": t, "counted": c,
                    "per_frame": {str(o): [[round(float(rng.uniform(0.1 * i, 0.2 + 0.2 * i)), 4),
                                            round(float(rng.uniform(0.1 * i, 0.15 + 0.2 * i)), 4)] for _ in range(frames)]
                                  for o in objects}})
    return out
videos = [
    {"name": "v1", "objects": [1], "n_frames": 3, "rounds": rounds([1], [7.0, 9.5, 6.0, 8.0], [True] * 4)},
    {"name": "v2", "objects": [1, 2], "n_frames": 3, "rounds": rounds([1, 2], [15.0, 22.0, 300.0], [True, True, False])},
    {"name": "v3", "objects": [2, 3, 5], "n_frames": 3, "rounds": rounds([2, 3, 5], [30.0], [True])},
]
json.dump({"options": opts, "videos": videos}, open(sys.argv[1], "w"))
