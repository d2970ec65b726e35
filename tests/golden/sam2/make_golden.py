"""Regenerate the inputs of the SAM2 equivalence test (see README.md in this folder).

    .venv/bin/python tests/golden/sam2/make_golden.py OUT_DIR

writes OUT_DIR/ckpt.pt (seeded random SAM2.1-tiny weights at image size 64, as the adapter builds
them) and copies this folder's JPEG/PNG inputs next to it; then run the official
tools/vos_inference.py on them with the CPU wrapper shown in README.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED, IMAGE_SIZE, SIZE = 0, 64, "t"


def make_checkpoint(path: Path) -> None:
    import torch

    from adapters.sam2_vos import SAM2Config, build_predictor

    predictor = build_predictor(SAM2Config(size=SIZE, random_init=True, seed=SEED, image_size=IMAGE_SIZE), "cpu")
    torch.save({"model": predictor.state_dict()}, path)


def make_inputs(out: Path) -> None:
    """The synthetic videos (moving textured square + disk), JPEG frames and first-frame PNGs."""
    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(HERE.parents[1]))
    from _methods_video import moving_objects

    from harness.data.masks import write_label_png

    cases = {"first": dict(late_start=0, annotated=(0, 4)), "later": dict(late_start=3, annotated=(0, 3))}
    for video_name, spec in cases.items():
        video, gt = moving_objects(frames=8, size=(64, 96), seed=1, late_start=spec["late_start"])
        (out / "JPEGImages" / video_name).mkdir(parents=True, exist_ok=True)
        (out / "Annotations" / video_name).mkdir(parents=True, exist_ok=True)
        for t in range(len(video)):
            Image.fromarray(video.frame(t)).save(out / "JPEGImages" / video_name / f"{t:05d}.jpg", quality=95)
        for t in spec["annotated"]:
            write_label_png(out / "Annotations" / video_name / f"{t:05d}.png", gt[t].astype(np.uint8))


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if (HERE / "JPEGImages").is_dir():
        for sub in ("JPEGImages", "Annotations"):
            shutil.copytree(HERE / sub, out / sub, dirs_exist_ok=True)
    else:
        make_inputs(out)
    make_checkpoint(out / "ckpt.pt")
    print(f"wrote {out}/ckpt.pt and inputs")
