"""Regenerate the inputs of the DeAOT equivalence test (see README.md in this folder).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python tests/golden/deaot/make_golden.py DEAOTPY_DIR MODEL OUT_DIR

writes OUT_DIR/ckpt_MODEL.pth (``{"state_dict": ...}``: the seeded random weights exactly as
``adapters.deaot_vos.random_weights`` makes them, printing :func:`weights_digest`) and lays this
folder's inputs out as deaotpy's ``tools/eval.py --dataset youtubevos2019 --split val`` reads them
(``YOUTUBEVOS_Test``): ``OUT_DIR/VOS02/datasets/YTB/2019/valid/{JPEGImages,Annotations,meta.json}``
(the Evaluator's ``DIR_DATA`` is ``../VOS02/datasets`` from the working directory). ``meta.json``
lists, for every object, the frames from its first annotated frame on (YouTube-VOS's rule: eval's
frame list starts at the first object's first frame). The inputs are the XMem golden's: ``mosebench
synth`` 3 videos x 10 frames, 96x128, seed 0 (objects appearing on frame 4), ``late`` (objects 1-4
first given on frame 3, 5-6 on frame 6) and ``gaps`` (ids renumbered 9, 3, 200, 17, 2, 40).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 1


def weights_digest(state) -> str:
    """sha256 over the state dict's names and tensor bytes (in key order)."""
    import hashlib

    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def make_checkpoint(package_dir: str, model: str, path: Path) -> str:
    """Write the seeded checkpoint to ``path`` (run with ``OMP_NUM_THREADS=1``); returns its digest."""
    import torch

    from adapters.deaot_vos import engine_config, load_package, package_root, random_weights

    torch.set_num_threads(1)
    package = load_package(package_root(package_dir))
    state = random_weights(package, engine_config(package, model), SEED)
    torch.save({"state_dict": state}, path)
    return weights_digest(state)


def make_inputs(out: Path) -> None:
    import numpy as np
    from PIL import Image

    root = out / "VOS02" / "datasets" / "YTB" / "2019" / "valid"
    shutil.copytree(HERE / "JPEGImages", root / "JPEGImages", dirs_exist_ok=True)
    shutil.copytree(HERE / "Annotations", root / "Annotations", dirs_exist_ok=True)
    videos = {}
    for vid in sorted(p.name for p in (root / "JPEGImages").iterdir()):
        names = [p.stem for p in sorted((root / "JPEGImages" / vid).glob("*.jpg"))]
        objects: dict[str, dict] = {}
        for png in sorted((root / "Annotations" / vid).glob("*.png")):
            with Image.open(png) as im:
                ids = [int(i) for i in np.unique(np.array(im)) if i]
            for oid in ids:
                objects.setdefault(str(oid), {"category": "object", "frames": names[names.index(png.stem):]})
        videos[vid] = {"objects": objects}
    (root / "meta.json").write_text(json.dumps({"videos": videos}, indent=1))


if __name__ == "__main__":
    package_dir, model, out_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    out_dir.mkdir(parents=True, exist_ok=True)
    make_inputs(out_dir)
    print(make_checkpoint(package_dir, model, out_dir / f"ckpt_{model}.pth"))
