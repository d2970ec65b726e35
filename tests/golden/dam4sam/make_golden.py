"""Regenerate the inputs of the DAM4SAM equivalence test (see README.md in this folder).

    .venv/bin/python tests/golden/dam4sam/make_golden.py OUT_DIR

writes OUT_DIR/ckpt.pt (seeded random DAM4SAM b+ weights at image size 64, as the adapter builds
them) and this folder's JPEG/PNG inputs (made on the first run); then run the original tracker on
them with the CPU + decoder-script driver shown in README.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SEED, IMAGE_SIZE, SIZE, FRAMES = 0, 64, "b+", 28
CASES = {"first": dict(late_start=0, annotated=(0,)), "later": dict(late_start=3, annotated=(0, 3))}


def make_checkpoint(path: Path) -> None:
    import torch

    from adapters.sam2_dam4sam import DAM4SAMConfig
    from adapters.sam2_vos import build_predictor

    predictor = build_predictor(DAM4SAMConfig(size=SIZE, random_init=True, seed=SEED, image_size=IMAGE_SIZE), "cpu")
    torch.save({"model": predictor.state_dict()}, path)


def make_inputs(out: Path) -> None:
    """28-frame synthetic videos (moving textured square + disk), JPEG frames and PNG annotations."""
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
        for t in spec["annotated"]:
            write_label_png(out / "Annotations" / video_name / f"{t:05d}.png", gt[t].astype(np.uint8))


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
