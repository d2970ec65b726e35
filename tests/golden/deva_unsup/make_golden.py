"""Regenerate the inputs of the deva-unsup equivalence test (see README.md in this folder).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python tests/golden/deva_unsup/make_golden.py DEVA_CHECKOUT OUT_DIR

writes OUT_DIR/ckpt.pth (the DEVA golden's seeded checkpoint, ``tests/golden/deva/make_golden.py``),
OUT_DIR/JPEGImages/<video>/ (``mosebench synth`` 2 videos x 12 frames, 96x128, seed 0) and
OUT_DIR/detections/<video>/<frame>.png: synthetic image-segmenter output derived from the ground
truth (:func:`detections`), the layout ``eval_with_detections.py --mask_path`` reads. With ``--inputs``
it also copies JPEGImages/ and detections/ into this folder (committed).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 0


def detections(gt: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Per-frame label maps from ground-truth label maps, imperfect as a segmenter's: ids shuffled on
    every frame (1..255), object 1 split in two halves on frames 1, 5, 9; objects 2 and 3 merged on
    frames 2, 6, 10; object 4 missing on frames 3-7; a spurious square on odd frames; and 24
    14-pixel squares in a checkerboard on frames 0-2 and 5-7 (so more than 20 segments: the cap fires)."""
    rng = np.random.default_rng(seed)
    out = []
    for t, lab in enumerate(gt):
        h, w = lab.shape
        segs: list[np.ndarray] = []
        for oid in sorted(int(v) for v in np.unique(lab) if v):
            m = lab == oid
            if oid == 4 and 3 <= t <= 7:
                continue
            if oid == 3 and t % 4 == 2 and segs and (lab == 2).any():
                continue  # merged into 2 below
            if oid == 2 and t % 4 == 2:
                m = m | (lab == 3)
            if oid == 1 and t % 4 == 1:
                xs = np.nonzero(m.any(0))[0]
                if len(xs) > 1:
                    cut = np.zeros_like(m)
                    cut[:, : (xs[0] + xs[-1]) // 2] = True
                    segs += [m & cut, m & ~cut]
                    continue
            segs.append(m)
        if t % 2 == 1:
            y, x = rng.integers(0, h - 12), rng.integers(0, w - 12)
            sq = np.zeros((h, w), bool)
            sq[y:y + 10, x:x + 10] = True
            segs.append(sq & (lab == 0))
        if t in (0, 1, 2, 5, 6, 7):
            for i in range(24):  # a checkerboard of the 16-pixel cells, so they survive DEVA's 1/16 memory
                sq = np.zeros((h, w), bool)
                y, x = (i // 4) * 16 + 1, ((i % 4) * 2 + (i // 4) % 2) * 16 + 1
                sq[y:y + 14, x:x + 14] = True
                segs.append(sq & (lab == 0))
        ids = rng.permutation(np.arange(1, 256))[: len(segs)]
        det = np.zeros((h, w), np.uint8)
        for sid, m in zip(ids, segs):
            det[m] = sid
        out.append(det)
    return out


def make_inputs(out: Path) -> None:
    from PIL import Image

    from harness.data.synth import generate

    data = generate(out / "synth", videos=2, frames=12, size=(96, 128), seed=SEED, annotate_every=1)
    palette = None
    for vdir in sorted((data / "JPEGImages").iterdir()):
        shutil.copytree(vdir, out / "JPEGImages" / vdir.name, dirs_exist_ok=True)
        pngs = sorted((data / "Annotations" / vdir.name).glob("*.png"))
        gts = []
        for p in pngs:
            with Image.open(p) as im:
                palette = palette or im.getpalette()
                gts.append(np.array(im))
        (out / "detections" / vdir.name).mkdir(parents=True, exist_ok=True)
        for p, det in zip(pngs, detections(gts, SEED)):
            im = Image.fromarray(det, mode="P")
            im.putpalette(palette)
            im.save(out / "detections" / vdir.name / p.name)
    shutil.rmtree(out / "synth")


if __name__ == "__main__":
    repo, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    make_inputs(out)
    sys.path.insert(0, str(HERE.parent / "deva"))
    from make_golden import make_checkpoint  # the DEVA golden's

    print(make_checkpoint(repo, out / "ckpt.pth"))
    if "--inputs" in sys.argv[3:]:
        for sub in ("JPEGImages", "detections"):
            shutil.copytree(out / sub, HERE / sub, dirs_exist_ok=True)
    print(f"wrote {out}")
