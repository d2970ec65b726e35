"""Regenerate the inputs of the SAM2Long equivalence test (see README.md in this folder).

    .venv/bin/python tests/golden/sam2long/make_golden.py OUT_DIR

writes OUT_DIR/ckpt.pt (seeded random SAM 2.1 tiny weights at image size 64, as the adapter builds them
for ``sam2long-t``), this folder's JPEG/PNG inputs (made on the first run) and copies them to OUT_DIR;
then run Mark12Ding/SAM2Long's tools/vos_inference.py on them with the CPU + decoder-script wrapper
shown in README.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SEED, IMAGE_SIZE, SIZE, FRAMES = 0, 64, "t", 28
# video -> (frame of object 2's appearance, {annotated frame: objects that start there})
CASES = {"first": dict(late_start=0, annotated={0: (1,)}), "later": dict(late_start=3, annotated={0: (1,), 3: (2,)})}


def make_checkpoint(path: Path) -> None:
    import torch

    from adapters.sam2_sam2long import SAM2LongConfig
    from adapters.sam2_vos import build_predictor

    predictor = build_predictor(SAM2LongConfig(size=SIZE, random_init=True, seed=SEED, image_size=IMAGE_SIZE), "cpu")
    torch.save({"model": predictor.state_dict()}, path)


def make_inputs(out: Path) -> None:
    """28-frame synthetic videos (moving textured square + disk), JPEG frames and DAVIS-style
    label PNGs on each object's first frame: ``first`` one object from frame 0; ``later`` object 1
    from frame 0 and object 2 from frame 3, where it first appears. (Two objects scripted alike
    from the same frame compete on near-equal logits under the non-overlap constraint, where float
    noise between the fork's sam2 and 1.1.0 would decide pixels.)"""
    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(ROOT / "tests"))
    from _methods_video import moving_objects

    from harness.data.masks import write_label_png

    for video_name, spec in CASES.items():
        video, gt = moving_objects(frames=FRAMES, size=(64, 96), seed=1, late_start=spec["late_start"])
        (out / "JPEGImages" / video_name).mkdir(parents=True, exist_ok=True)
        (out / "Annotations" / video_name).mkdir(parents=True, exist_ok=True)
        for t in range(len(video)):
            Image.fromarray(video.frame(t)).save(out / "JPEGImages" / video_name / f"{t:05d}.jpg", quality=95)
        for t, objects in spec["annotated"].items():
            labels = np.where(np.isin(gt[t], objects), gt[t], 0).astype(np.uint8)
            write_label_png(out / "Annotations" / video_name / f"{t:05d}.png", labels)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if not (HERE / "JPEGImages").is_dir():
        make_inputs(HERE)
    for sub in ("JPEGImages", "Annotations"):
        shutil.copytree(HERE / sub, out / sub, dirs_exist_ok=True)
    make_checkpoint(out / "ckpt.pt")
    print(f"wrote {out}/ckpt.pt and inputs")
