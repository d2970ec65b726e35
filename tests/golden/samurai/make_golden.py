"""Regenerate the inputs of the SAMURAI equivalence test (see README.md in this folder).

    .venv/bin/python tests/golden/samurai/make_golden.py OUT_DIR

writes OUT_DIR/ckpt.pt (seeded random SAM 2.1 tiny weights at image size 64, as the adapter builds
them for ``samurai-t``), this folder's JPEG/PNG inputs (made on the first run) and, per (video,
object), an input folder ``OUT_DIR/inputs/<video>_<obj>/<video>/<obj>/`` holding that object's
annotation only (the original runs one object per process: its Kalman filter lives on the model
and would carry over from one object to the next); then run yangchris11/samurai's
sam2/tools/vos_inference.py on each with the CPU + decoder-script wrapper shown in README.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SEED, IMAGE_SIZE, SIZE, FRAMES = 0, 64, "t", 28
CASES = {"first": dict(late_start=0, annotated={1: 0, 2: 0}), "later": dict(late_start=1, annotated={1: 0, 2: 1})}


def make_checkpoint(path: Path) -> None:
    import torch

    from adapters.sam2_samurai import SAMURAIConfig
    from adapters.sam2_vos import build_predictor

    predictor = build_predictor(SAMURAIConfig(size=SIZE, random_init=True, seed=SEED, image_size=IMAGE_SIZE), "cpu")
    torch.save({"model": predictor.state_dict()}, path)


def make_inputs(out: Path) -> None:
    """28-frame synthetic videos (moving textured square + disk), JPEG frames and per-object PNGs
    (``Annotations/<video>/<obj:03d>/<frame>.png``, SA-V's layout, the README command's flag)."""
    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(ROOT / "tests"))
    from _methods_video import moving_objects

    for video_name, spec in CASES.items():
        video, gt = moving_objects(frames=FRAMES, size=(64, 96), seed=1, late_start=spec["late_start"])
        (out / "JPEGImages" / video_name).mkdir(parents=True, exist_ok=True)
        for t in range(len(video)):
            Image.fromarray(video.frame(t)).save(out / "JPEGImages" / video_name / f"{t:05d}.jpg", quality=95)
        for obj, t in spec["annotated"].items():
            d = out / "Annotations" / video_name / f"{obj:03d}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray((gt[t] == obj).astype(np.uint8)).save(d / f"{t:05d}.png")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if not (HERE / "JPEGImages").is_dir():
        make_inputs(HERE)
    shutil.copytree(HERE / "JPEGImages", out / "JPEGImages", dirs_exist_ok=True)
    for video_name, spec in CASES.items():
        for obj in spec["annotated"]:
            src = HERE / "Annotations" / video_name / f"{obj:03d}"
            shutil.copytree(src, out / "inputs" / f"{video_name}_{obj:03d}" / video_name / f"{obj:03d}", dirs_exist_ok=True)
    make_checkpoint(out / "ckpt.pt")
    print(f"wrote {out}/ckpt.pt and inputs")
