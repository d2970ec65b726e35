"""Run the deva adapter on the golden inputs; the equivalence test starts it in a fresh interpreter
with ``OMP_NUM_THREADS=1`` (as eval_vos.py ran), see README.md.

    python tests/golden/deva/run_adapter.py {default|lt} DEVA_CHECKOUT CKPT OUT.npz

writes the seeded checkpoint to ``CKPT`` (``make_golden.make_checkpoint``; its digest is printed),
runs the adapter with the options of that golden run (:data:`RUNS`, eval_vos.py's flags) and writes
``OUT.npz``: ``<video>`` -> ``(T, H, W) uint8`` label maps (0 on frames not processed),
``<video>.processed`` -> ``(T,) bool``, ``<video>.frames``, ``<video>.long_term`` -> ``(T,)`` long-term
memory tokens (all object groups) after each frame, ``<video>.groups`` -> ``(T,)`` object groups
(buckets) in working memory and ``<video>.count_usage`` -> whether long-term usage was counted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
INPUTS = HERE.parent / "xmem"  # shared with the XMem golden (make_golden.py)
VIDEOS = ("gaps", "late", "synth000", "synth001", "synth002")
RUNS = {  # golden run -> adapter options (= the eval_vos.py flags in README.md)
    "default": {},
    "lt": {"size": 64, "top_k": 20, "mem_every": 1, "max_mid_term_frames": 3, "min_mid_term_frames": 2,
           "num_prototypes": 8, "max_long_term_elements": 72, "chunk_size": 2},
}


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im)


def _memory(core) -> tuple[int, int]:
    """(long-term tokens over all buckets, working-memory buckets) of a live DEVAInferenceCore."""
    if core is None or not core.memory.engaged:
        return 0, 0
    mem = core.memory
    long_term = sum(mem.long_mem.size(b) for b in mem.long_mem.buckets) if mem.use_long_term else 0
    return long_term, len(mem.work_mem.buckets)


def main(run: str, repo: str, ckpt: str, out: str) -> None:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    from make_golden import make_checkpoint

    from harness import registry
    from harness.api import MaskPrompt
    from harness.data.frames import JpegFrames

    print(make_checkpoint(repo, Path(ckpt)))
    method = registry.create("deva", {"repo": repo, "ckpt": ckpt, **RUNS[run]}, "cpu")
    arrays = {}
    for name in VIDEOS:
        jpgs = sorted((INPUTS / "JPEGImages" / name).glob("*.jpg"))
        pngs = sorted((INPUTS / "Annotations" / name).glob("*.png"))
        h, w = _png(pngs[0]).shape
        video = JpegFrames(name, [p.stem for p in jpgs], jpgs, h, w)  # the runner's reader
        results, memory = [], []
        with method.open_session(video) as session:
            for png in pngs:  # each object on its first frame, as eval_vos.py reads the sparse PNGs
                lab = _png(png)
                for oid in np.unique(lab[lab > 0]):
                    session.add_prompt(MaskPrompt(video.frame_names.index(png.stem), int(oid), lab == oid))
            for r in session.propagate():
                results.append(r)
                memory.append(_memory(session.core))
            count_usage = session.config["enable_long_term_count_usage"]
        labels = np.zeros((len(video), h, w), np.uint8)
        for r in results:
            for oid, m in r.masks.items():
                if (labels[r.frame][m] > 0).any():
                    raise SystemExit(f"{name} frame {r.frame}: the adapter's masks overlap")
                labels[r.frame][m] = oid
        arrays[name] = labels
        arrays[f"{name}.processed"] = np.array([r.processed for r in results])
        arrays[f"{name}.frames"] = np.array([r.frame for r in results])
        arrays[f"{name}.long_term"] = np.array([m[0] for m in memory])
        arrays[f"{name}.groups"] = np.array([m[1] for m in memory])
        arrays[f"{name}.count_usage"] = np.array(count_usage)
    np.savez_compressed(out, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:5])
