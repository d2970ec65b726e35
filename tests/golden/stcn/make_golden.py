"""Inputs, the package's driver and the adapter run for the STCN equivalence test (README.md here).

    OMP_NUM_THREADS=1 PYTHONPATH=. python tests/golden/stcn/make_golden.py golden OUT.npz [STCNBUF_DIR]
    OMP_NUM_THREADS=1 PYTHONPATH=. python tests/golden/stcn/make_golden.py adapter OUT.npz [STCNBUF_DIR]

Inputs (regenerated, nothing to commit): ``tests/_methods_video.moving_objects`` at 64x96, 12 frames,
video ``one`` (seed 0, the square only) and ``two`` (seed 1, square and disk both from frame 0), the
first frame's ground truth as the mask prompt. Weights: ``adapters.stcn_vos.random_weights(seed 0)``.

``golden`` is stcnbuf 0.2.2's own inference path as ``stcnbuf.segment_video.process_video`` runs it
(that function itself needs framepump, Mask R-CNN and a video file, so its loop is restated here,
line for line): ``load_prop_model`` (``STCN()`` built and loaded inside ``torch.inference_mode``, no
``.cuda()``), ``STCNInference(prop, mem_size, 2, top, resolution)``, ``initialize(frame0, masks)``,
``torch.jit.script``, then ``predict_batch(chunk, add_last_to_memory=True, is_temp=False)`` over
chunks of ``mem_every`` frames starting with frame 0, ``argmax`` over dim 0. Frames are at the
processing size already (short side 64 = resolution), so no resize happens on either side.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
SEED, MEM_EVERY, TOP_K, SIZE = 0, 5, 20, 64


def videos():
    from _methods_video import moving_objects

    one, gt1 = moving_objects(frames=12, size=(64, 96), seed=0, late_start=None)
    two, gt2 = moving_objects(frames=12, size=(64, 96), seed=1, late_start=0)
    return {"one": (one, gt1), "two": (two, gt2)}


def _ids(gt: np.ndarray) -> list[int]:
    return [int(i) for i in np.unique(gt[0]) if i]


def golden(stcnbuf_dir: str | None) -> dict[str, np.ndarray]:
    import torch

    from adapters.stcn_vos import build, contiguous_readout, cuda_to, load_package, random_weights, to_tensor

    net = load_package(stcnbuf_dir)
    state = random_weights(net, SEED)
    out, writes = {}, 0
    for name, (video, gt) in videos().items():
        with torch.inference_mode():
            prop = build(net)  # load_prop_model: STCN().eval() + load_state_dict, inside inference_mode
            prop.load_state_dict(state)
            stcn = net.STCNInference(prop, np.inf, 2, TOP_K, SIZE).eval()
            stcn.im_transform = to_tensor  # ToTensor + Normalize(ImageNet)
            frames = [video.frame(t) for t in range(len(video))]
            masks = torch.as_tensor(np.stack([gt[0] == i for i in _ids(gt)]).astype(np.float32))
            with cuda_to("cpu"):
                stcn.initialize(frames[0], masks)
            core = torch.jit.script(stcn) if len(_ids(gt)) == 1 else contiguous_readout(stcn)
            labels = []
            for i in range(0, len(frames), MEM_EVERY):
                batch = torch.stack([to_tensor(f) for f in frames[i:i + MEM_EVERY]])
                prob = core.predict_batch(batch, add_last_to_memory=True, is_temp=False)
                writes += 1
                labels += list(torch.argmax(prob, dim=0).numpy().astype(np.uint8))
        out[name] = np.stack(labels)
    out["memory_writes"] = np.array(writes)
    return out


def adapter(stcnbuf_dir: str | None) -> dict[str, np.ndarray]:
    from adapters.stcn_vos import STCN, STCNConfig
    from harness.api import MaskPrompt

    method = STCN(STCNConfig(path=stcnbuf_dir, random_init=True, seed=SEED, size=SIZE, mem_every=MEM_EVERY,
                             top_k=TOP_K))
    out, writes = {}, 0
    for name, (video, gt) in videos().items():
        session = method.open_session(video)
        ids = _ids(gt)
        for i in ids:
            session.add_prompt(MaskPrompt(0, i, gt[0] == i))
        labels = []
        for r in session.propagate():
            lm = np.zeros((video.height, video.width), np.uint8)
            for i in ids:
                lm[r.masks[i]] = ids.index(i) + 1
            labels.append(lm)
        writes += session.memory_writes
        out[name] = np.stack(labels)
    out["memory_writes"] = np.array(writes)
    return out


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    mode, target = sys.argv[1], sys.argv[2]
    where = sys.argv[3] if len(sys.argv) > 3 else None
    result = {"golden": golden, "adapter": adapter}[mode](where)
    np.savez_compressed(target, **result)
    for k, v in result.items():
        print(k, v.shape, [int((v[t] > 0).sum()) for t in range(len(v))] if v.ndim == 3 else int(v))
