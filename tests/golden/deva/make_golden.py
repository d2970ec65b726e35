"""Regenerate the inputs of the DEVA equivalence test (see README.md in this folder).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python tests/golden/deva/make_golden.py DEVA_CHECKOUT OUT_DIR

writes OUT_DIR/ckpt.pth (seeded random DEVA propagation weights, key projection x0.1, exactly as
``adapters.deva_vos.random_weights`` makes them; its digest is printed) and lays the inputs out as
``evaluation/eval_vos.py --dataset G --generic_path OUT_DIR --use_all_masks`` reads them:
``JPEGImages/<video>/`` and ``Annotations/<video>/`` in the sparse layout (on each object's first
frame a PNG holding only the objects that start there). The inputs are the XMem golden's
(``tests/golden/xmem``: ``mosebench synth`` 3 videos x 10 frames, 96x128, seed 0, plus ``late`` and
``gaps``; its ``make_golden.make_gaps`` writes ``gaps`` when missing), shared rather than copied.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
INPUTS = HERE.parent / "xmem"
SEED = 0


def make_checkpoint(repo: str, path: Path) -> str:
    """Write the seeded checkpoint to ``path``; returns ``"<weights_digest> <weights_abs_sum>"``
    (``tests/support/golden.py``).

    Run in a process started with ``OMP_NUM_THREADS=1``: the orthogonal init (a QR) of the key
    projection differs in the last bits with the thread set-up (and with the CPU kind)."""
    import torch

    from adapters.deva_vos import load_checkout, random_weights

    sys.path.insert(0, str(HERE.parents[1]))  # tests/, for support.golden
    from support.golden import weights_abs_sum, weights_digest

    torch.set_num_threads(1)
    state = random_weights(load_checkout(repo), SEED)
    torch.save(state, path)
    return f"{weights_digest(state)} {weights_abs_sum(state)!r}"


def make_inputs(out: Path) -> None:
    if not (INPUTS / "JPEGImages" / "gaps").is_dir():
        sys.path.insert(0, str(INPUTS))
        from make_golden import make_gaps  # the XMem golden's

        make_gaps()
    shutil.copytree(INPUTS / "JPEGImages", out / "JPEGImages", dirs_exist_ok=True)
    shutil.copytree(INPUTS / "Annotations", out / "Annotations", dirs_exist_ok=True)


if __name__ == "__main__":
    repo, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    make_inputs(out)
    print(make_checkpoint(repo, out / "ckpt.pth"))
    print(f"wrote {out}/ckpt.pth and inputs")
