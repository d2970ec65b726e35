"""Run the deaot adapter on this folder's golden inputs; the equivalence test starts it in a fresh
interpreter with ``OMP_NUM_THREADS=1`` (as eval.py ran), see README.md.

    python tests/golden/deaot/run_adapter.py {deaotl|deaott} DEAOTPY_DIR CKPT OUT.npz

writes the seeded checkpoint to ``CKPT`` (``make_golden.make_checkpoint``; its digest is printed),
runs ``deaot`` with that model and eval.py's defaults and writes ``OUT.npz``: ``<video>`` ->
``(T, H, W) uint8`` label maps (0 on frames not processed), ``<video>.processed`` -> ``(T,) bool``,
``<video>.frames`` and ``<video>.lt_step`` -> ``(T,)`` the engine's frame step of its latest
long-term memory after each frame (-1 before the first step).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VIDEOS = ("gaps", "late", "synth000", "synth001", "synth002")


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im)


def main(model: str, package_dir: str, ckpt: str, out: str) -> None:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    from make_golden import make_checkpoint

    from harness import registry
    from harness.api import MaskPrompt
    from harness.data.frames import JpegFrames

    print(make_checkpoint(package_dir, model, Path(ckpt)))
    method = registry.create("deaot", {"repo": package_dir, "ckpt": ckpt, "model": model}, "cpu")
    arrays = {}
    for name in VIDEOS:
        jpgs = sorted((HERE / "JPEGImages" / name).glob("*.jpg"))
        pngs = sorted((HERE / "Annotations" / name).glob("*.png"))
        h, w = _png(pngs[0]).shape
        video = JpegFrames(name, [p.stem for p in jpgs], jpgs, h, w)  # the runner's reader
        results, lt_step = [], []
        with method.open_session(video) as session:
            for png in pngs:  # each object on its first frame, as eval reads the sparse PNGs
                lab = _png(png)
                for oid in np.unique(lab[lab > 0]):
                    session.add_prompt(MaskPrompt(video.frame_names.index(png.stem), int(oid), lab == oid))
            for r in session.propagate():
                results.append(r)
                engine = session.engine  # the live DeAOTInferEngine (None before the first step)
                lt_step.append(engine.aot_engines[0].last_mem_step if engine is not None and engine.aot_engines
                               else -1)
        labels = np.zeros((len(video), h, w), np.uint8)
        for r in results:
            for oid, m in r.masks.items():
                if (labels[r.frame][m] > 0).any():
                    raise SystemExit(f"{name} frame {r.frame}: the adapter's masks overlap")
                labels[r.frame][m] = oid
        arrays[name] = labels
        arrays[f"{name}.processed"] = np.array([r.processed for r in results])
        arrays[f"{name}.frames"] = np.array([r.frame for r in results])
        arrays[f"{name}.lt_step"] = np.array(lt_step)
    np.savez_compressed(out, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:5])
