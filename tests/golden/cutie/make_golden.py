"""Regenerate the inputs of the Cutie equivalence test (see README.md in this folder).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python tests/golden/cutie/make_golden.py OUT_DIR

writes OUT_DIR/ckpt-base.pth and OUT_DIR/ckpt-small.pth (seeded random Cutie weights, key
projection x0.1, exactly as ``adapters.cutie_vos.random_weights`` makes them) and the inputs:
``JPEGImages/`` and ``Annotations/`` in the YouTube-VOS sparse layout that ``eval_vos.py`` reads
with ``use_all_masks=true`` (on each object's first frame, a PNG holding only the objects that
start there). Inputs are copied from this folder when present, else made from ``mosebench synth``
(3 videos x 10 frames, 96x128, seed 0) plus ``late``: synth000's frames with its objects first
given on frame 3 (objects 1-4) and frame 6 (objects 5-6), so that frames 0-2 get no step.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for support.golden
from support.golden import weights_abs_sum, weights_digest  # noqa: E402,F401 (re-exported: run_adapter.py, tests)

SEED = 0
LATE_STARTS = {3: (1, 2, 3, 4), 6: (5, 6)}  # video 'late': frame -> objects first given there


def make_checkpoint(model: str, path: Path) -> str:
    """Write the seeded checkpoint of ``model`` to ``path``; returns :func:`weights_digest` and
    :func:`weights_abs_sum`, space-separated.

    Run in a process started with ``OMP_NUM_THREADS=1``: the orthogonal init (a QR) of the key
    projection differs in the last bits with the thread set-up."""
    import torch

    from adapters.cutie_vos import CutieConfig, compose_config, random_weights

    torch.set_num_threads(1)
    state = random_weights(compose_config(CutieConfig(model=model, random_init=True)), SEED)
    torch.save(state, path)
    return f"{weights_digest(state)} {weights_abs_sum(state)!r}"


def make_checkpoints(out: Path) -> None:
    for model in ("base", "small"):
        print(model, make_checkpoint(model, out / f"ckpt-{model}.pth"))


def _sparse(labels: list, starts: dict[int, tuple[int, ...]]) -> dict[int, object]:
    import numpy as np

    out = {}
    for t, objs in starts.items():
        out[t] = np.where(np.isin(labels[t], objs), labels[t], 0).astype(np.uint8)
    return out


def make_inputs(out: Path) -> None:
    import numpy as np
    from PIL import Image

    from harness.data.masks import write_label_png
    from harness.data.synth import generate

    with tempfile.TemporaryDirectory() as tmp:
        src = generate(Path(tmp) / "synth", videos=3, frames=10, size=(96, 128), seed=SEED)
        videos = sorted(p.name for p in (src / "JPEGImages").iterdir())
        for name in videos + ["late"]:
            frames_from = "synth000" if name == "late" else name
            jpgs = sorted((src / "JPEGImages" / frames_from).glob("*.jpg"))
            labels = [np.array(Image.open(src / "Annotations" / frames_from / f"{p.stem}.png")) for p in jpgs]
            if name == "late":
                starts = LATE_STARTS
            else:
                seen: set[int] = set()
                starts = {}
                for t, lab in enumerate(labels):
                    new = tuple(int(o) for o in np.unique(lab) if o and o not in seen)
                    if new:
                        starts[t] = new
                        seen.update(new)
            (out / "JPEGImages" / name).mkdir(parents=True, exist_ok=True)
            (out / "Annotations" / name).mkdir(parents=True, exist_ok=True)
            for p in jpgs:
                shutil.copy(p, out / "JPEGImages" / name / p.name)
            for t, lab in _sparse(labels, starts).items():
                write_label_png(out / "Annotations" / name / f"{jpgs[t].stem}.png", lab)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if (HERE / "JPEGImages").is_dir():
        for sub in ("JPEGImages", "Annotations"):
            shutil.copytree(HERE / sub, out / sub, dirs_exist_ok=True)
    else:
        make_inputs(out)
    make_checkpoints(out)
    print(f"wrote {out}/ckpt-*.pth and inputs")
