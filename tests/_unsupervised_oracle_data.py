"""A small DAVIS-layout unsupervised set (GT + proposal predictions), rebuilt identically on demand.

Used by tests/test_conventions_unsupervised.py and by tests/golden/conventions/run_davis2017_unsupervised.py
(which ran davis2017-evaluation's own unsupervised evaluation on it, outside the project). Every
sequence has its GT objects 1..n on frame 0 (davis2017-evaluation takes the objects from frame 0);
objects move, change size and vanish; proposals are noisy, split, spurious, non-contiguous in id,
or fewer than the objects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

H, W, T = 48, 64, 8


def _disk(cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def _box(y0: int, x0: int, h: int, w: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[max(y0, 0): y0 + h, max(x0, 0): x0 + w] = True
    return m


def sequences() -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    """``name -> (gt label maps, proposal label maps)``, ``T`` frames of ``(H, W) uint8`` each."""
    rng = np.random.default_rng(5)
    out = {}
    # s1: 3 objects, proposals 1, 2, 4 (id 3 unused), object 3 vanishes on frames 5..7
    gts, preds = [], []
    for t in range(T):
        g = np.zeros((H, W), np.uint8)
        g[_disk(12 + t, 10 + 3 * t, 6)] = 1
        g[_box(25, 40 - 2 * t, 10, 12)] = 2
        if t < 5:
            g[_disk(38, 12, 4 + t % 3)] = 3
        p = np.zeros((H, W), np.uint8)
        p[_disk(12 + t + rng.integers(-1, 2), 10 + 3 * t, 6 + rng.integers(-1, 2))] = 2
        p[_box(25 + rng.integers(-2, 3), 40 - 2 * t, 10, 9)] = 4
        if t < 7:
            p[_disk(38, 13, 4)] = 1  # keeps predicting object 3 after it vanished
        gts.append(g)
        preds.append(p)
    out["s1"] = (gts, preds)
    # s2: 2 objects, 4 proposals: one object split in two proposals, one spurious proposal
    gts, preds = [], []
    for t in range(T):
        g = np.zeros((H, W), np.uint8)
        g[_box(5, 5 + t, 20, 24)] = 1
        g[_disk(34, 44 - t, 8)] = 2
        p = np.zeros((H, W), np.uint8)
        p[_box(5, 5 + t, 20, 12)] = 1
        p[_box(5, 17 + t, 20, 12)] = 2
        p[_disk(34 + rng.integers(-2, 3), 44 - t, 7)] = 3
        p[_box(40, 2, 5, 5)] = 5
        gts.append(g)
        preds.append(p)
    out["s2"] = (gts, preds)
    # s3: 3 objects, a single proposal that jumps from one object to another halfway
    gts, preds = [], []
    for t in range(T):
        g = np.zeros((H, W), np.uint8)
        g[_box(4, 4, 12, 12)] = 1
        g[_box(4, 40, 12, 14)] = 2
        g[_disk(34, 30, 7)] = 3
        p = np.zeros((H, W), np.uint8)
        p[_box(4, 4, 12, 11) if t < 4 else _disk(34, 30, 6)] = 1
        gts.append(g)
        preds.append(p)
    out["s3"] = (gts, preds)
    return out


def _png(path: Path, labels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(labels, mode="P")
    im.putpalette([0, 0, 0, 200, 0, 0, 0, 200, 0, 200, 200, 0, 0, 0, 200, 200, 0, 200] + [128] * (3 * 250))
    im.save(path)


def build(root: str | Path) -> tuple[Path, Path]:
    """Write the set in DAVIS 2017 layout under ``root`` (GT also under ``Annotations_unsupervised``, where
    davis2017-evaluation's unsupervised task reads it) and the proposals under ``root/results``.
    Returns ``(dataset root, prediction root)``."""
    from PIL import Image

    root = Path(root)
    names = sorted(sequences())
    for name, (gts, preds) in sequences().items():
        for t, (g, p) in enumerate(zip(gts, preds)):
            stem = f"{t:05d}"
            img = np.full((H, W, 3), 40, np.uint8)
            img[..., 0] = (g * 50).astype(np.uint8)
            (root / "JPEGImages" / "480p" / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / "JPEGImages" / "480p" / name / f"{stem}.jpg")
            for ann in ("Annotations", "Annotations_unsupervised"):
                _png(root / ann / "480p" / name / f"{stem}.png", g)
            _png(root / "results" / name / f"{stem}.png", p)
    (root / "ImageSets" / "2017").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("\n".join(names) + "\n")
    return root, root / "results"
