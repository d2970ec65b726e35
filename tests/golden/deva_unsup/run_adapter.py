"""Run the deva-unsup adapter on the golden inputs with the decoder script installed; the equivalence
test starts it in a fresh interpreter with ``OMP_NUM_THREADS=1`` (as the original ran), see README.md.

    python tests/golden/deva_unsup/run_adapter.py RUN DEVA_CHECKOUT CKPT OUT.npz

writes the seeded checkpoint to ``CKPT`` (the DEVA golden's ``make_checkpoint``; digest printed), runs
``deva-unsup`` with the options of golden run ``RUN`` (:data:`RUNS`, eval_with_detections.py's flags)
on each video of :data:`VIDEOS` and writes ``OUT.npz``: ``<video>`` -> ``(T, H, W) uint8`` label maps,
``<video>.processed`` -> ``(T,) bool``, ``<video>.stats`` -> ``[votes, detections, added, purged]``,
``<video>.raw_ids`` -> distinct object ids before the 20-object cap, ``decoder_calls`` -> scripted calls.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VIDEOS = ("synth000", "synth001")
RUNS = {  # golden run -> adapter options (= the eval_with_detections.py flags in README.md)
    "semionline": {"size": -1},
    "purge": {"size": -1, "detection_every": 3, "max_missed_detection_count": 1},
    "s64": {"size": 64, "top_k": 20},
    "online": {"size": -1, "temporal_setting": "online"},
}


def main(run: str, repo: str, ckpt: str, out: str) -> None:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent / "deva"))
    import decoder_script
    from make_golden import make_checkpoint  # the DEVA golden's

    from adapters import deva_unsup
    from harness import registry
    from harness.data.frames import JpegFrames

    print(make_checkpoint(repo, Path(ckpt)))
    method = registry.create("deva-unsup", {"repo": repo, "ckpt": ckpt, "detections": str(HERE / "detections"),
                                            **RUNS[run]}, "cpu")
    decoder_script.install(method.checkout["deva.model.big_modules"])
    raw_ids: dict[str, set[int]] = {}
    original = deva_unsup.kept_ids

    def spy(labels, cap):  # the object ids before the cap
        raw_ids[current] = {int(v) for lab in labels for v in np.unique(lab) if v}
        return original(labels, cap)

    deva_unsup.kept_ids = spy
    arrays = {}
    for current in VIDEOS:
        jpgs = sorted((HERE / "JPEGImages" / current).glob("*.jpg"))
        from PIL import Image

        with Image.open(jpgs[0]) as im:
            w, h = im.size
        video = JpegFrames(current, [p.stem for p in jpgs], jpgs, h, w)  # the runner's reader
        with method.open_session(video) as session:
            results = list(session.propagate())
            stats = session.stats
        labels = np.zeros((len(video), h, w), np.uint8)
        for r in results:
            for oid, m in r.masks.items():
                if (labels[r.frame][m] > 0).any():
                    raise SystemExit(f"{current} frame {r.frame}: the adapter's masks overlap")
                labels[r.frame][m] = oid
        arrays[current] = labels
        arrays[f"{current}.processed"] = np.array([r.processed for r in results])
        arrays[f"{current}.stats"] = np.array([stats[k] for k in ("votes", "detections", "added", "purged")])
        arrays[f"{current}.raw_ids"] = np.array(sorted(raw_ids[current]))
    arrays["decoder_calls"] = np.array(decoder_script.CALLS[0])
    np.savez_compressed(out, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:5])
