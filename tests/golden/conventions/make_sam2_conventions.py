"""Run the ORIGINAL sam2 functions (fetched checkout, not the project) on constructed masks; write outputs."""
import importlib.util
import json
import subprocess
import sys

import numpy as np
import torch

root = sys.argv[2] if len(sys.argv) > 2 else "/work/ext/conv/facebookresearch+sam2"  # a fetched checkout
sys.path.insert(0, root)
commit = subprocess.check_output(["git", "-C", root, "rev-parse", "HEAD"], text=True).strip()
spec = importlib.util.spec_from_file_location("vos_inference", f"{root}/tools/vos_inference.py")
vi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vi)
spec = importlib.util.spec_from_file_location("sam2misc", f"{root}/sam2/utils/misc.py")
misc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(misc)
rng = np.random.default_rng(7)
H, W = 7, 9
masks = {}
for oid in (1, 2, 5, 9):
    m = np.zeros((H, W), bool)
    y0, x0 = rng.integers(0, 4), rng.integers(0, 5)
    m[y0:y0 + rng.integers(2, 5), x0:x0 + rng.integers(2, 6)] = True
    masks[oid] = m
masks[9][:, :] = False
masks[9][1:6, 2:7] = True  # a big one overlapping the others
merged = vi.put_per_obj_mask({k: v.copy() for k, v in masks.items()}, H, W)
box_masks = []
for spec_ in ([(2, 3)], [(0, 0), (6, 8)], [(3, 1), (3, 6)], [(1, 4), (5, 4)], [(2, 2), (2, 3), (3, 2), (3, 3)]):
    m = np.zeros((H, W), bool)
    for y, x in spec_:
        m[y, x] = True
    box_masks.append(m)
boxes = misc.mask_to_box(torch.from_numpy(np.stack(box_masks))[:, None]).reshape(-1, 4).tolist()
out = {"source": "facebookresearch/sam2", "commit": commit,
       "made_by": "tools/vos_inference.py put_per_obj_mask and sam2/utils/misc.py mask_to_box of that checkout, run on these masks",
       "shape": [H, W],
       "merge": {"masks": {str(k): v.astype(int).tolist() for k, v in masks.items()}, "labels": merged.astype(int).tolist()},
       "mask_to_box": {"masks": [m.astype(int).tolist() for m in box_masks], "boxes_xyxy": boxes}}
json.dump(out, open(sys.argv[1], "w"), indent=None)
print(merged)
print(boxes)
