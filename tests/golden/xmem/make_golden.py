"""Regenerate the inputs of the XMem equivalence test (see README.md in this folder).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python tests/golden/xmem/make_golden.py XMEM_CHECKOUT OUT_DIR

writes OUT_DIR/ckpt.pth (seeded random XMem weights, key projection x0.1, exactly as
``adapters.xmem_vos.random_weights`` makes them) and lays this folder's inputs out as ``eval.py
--dataset Y19 --split val --y19_path OUT_DIR`` reads them: ``all_frames/valid_all_frames/JPEGImages/``,
``valid/Annotations/`` (the YouTube-VOS sparse layout: on each object's first frame a PNG holding only
the objects that start there) and ``valid/meta.json`` (every frame of every object, for ``to_save``).
The inputs are the Cutie golden's (``mosebench synth``, 3 videos x 10 frames, 96x128, seed 0, plus
``late``: objects 1-4 first given on frame 3, 5-6 on frame 6) plus ``gaps``: synth002 with its ids
renumbered by :data:`GAPS` (not consecutive, up to 200: the checkout's ``MaskMapper`` remaps them and
maps them back), made by :func:`make_gaps` when missing.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for support.golden
from support.golden import weights_digest  # noqa: E402,F401 (re-exported: run_adapter.py, tests)

SEED = 0
GAPS = {1: 9, 2: 3, 3: 200, 4: 17, 5: 2, 6: 40}  # video 'gaps': synth002's object ids renumbered


def make_checkpoint(repo: str, path: Path) -> str:
    """Write the seeded checkpoint to ``path``; returns :func:`weights_digest`.

    Run in a process started with ``OMP_NUM_THREADS=1``: the orthogonal init (a QR) of the key
    projection differs in the last bits with the thread set-up."""
    import torch

    from adapters.xmem_vos import load_checkout, random_weights

    torch.set_num_threads(1)
    state = random_weights(load_checkout(repo), SEED)
    torch.save(state, path)
    return weights_digest(state)


def make_gaps() -> None:
    """Write ``JPEGImages/gaps`` and ``Annotations/gaps`` (synth002, ids renumbered by :data:`GAPS`)."""
    import numpy as np
    from PIL import Image

    from harness.data.masks import write_label_png

    shutil.copytree(HERE / "JPEGImages" / "synth002", HERE / "JPEGImages" / "gaps")
    (HERE / "Annotations" / "gaps").mkdir()
    for png in sorted((HERE / "Annotations" / "synth002").glob("*.png")):
        with Image.open(png) as im:
            lab = np.array(im)
        write_label_png(HERE / "Annotations" / "gaps" / png.name, np.vectorize(lambda v: GAPS.get(v, 0))(lab)
                        .astype(np.uint8))


def make_inputs(out: Path) -> None:
    if not (HERE / "JPEGImages" / "gaps").is_dir():
        make_gaps()
    frames = out / "all_frames" / "valid_all_frames" / "JPEGImages"
    shutil.copytree(HERE / "JPEGImages", frames, dirs_exist_ok=True)
    shutil.copytree(HERE / "Annotations", out / "valid" / "Annotations", dirs_exist_ok=True)
    videos = {}
    for vid in sorted(p.name for p in frames.iterdir()):
        names = [p.stem for p in sorted((frames / vid).glob("*.jpg"))]
        videos[vid] = {"objects": {"1": {"category": "object", "frames": names}}}
    (out / "valid" / "meta.json").write_text(json.dumps({"videos": videos}, indent=1))


if __name__ == "__main__":
    repo, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    make_inputs(out)
    print(make_checkpoint(repo, out / "ckpt.pth"))
    print(f"wrote {out}/ckpt.pth and inputs")
