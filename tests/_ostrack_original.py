"""The original's own entry point on one object (runs in the tracker's env, cwd = its checkout).

``python _ostrack_original.py TRACKER PARAM CKPT DATASET_NAME X,Y,W,H [--cfg KEY=VALUE ...] -- FRAME...``
prints the boxes of
``lib.test.evaluation.tracker.Tracker(TRACKER, PARAM, DATASET_NAME).run_sequence(seq)`` as JSON, with
``seq`` the checkout's own ``lib.test.evaluation.data.Sequence`` over the given frame paths. The
checkpoint is linked where the checkout's ``parameters()`` looks for it; ``--cfg`` overrides are
applied after each ``parameters()`` call (which reloads the yaml), as mosebench's server does. The same run-time shims as
mosebench's server (``harness/trax_ostrack_server.py``; the checkout is not edited), 1 torch thread.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))


def main() -> None:
    tracker, param, ckpt, dataset_name, box, *rest = sys.argv[1:]
    split = rest.index("--")
    overrides, frames = rest[1:split:2], rest[split + 1:]
    import numpy as np
    import torch
    import trax_ostrack_server as server

    torch.set_num_threads(1)
    repo = Path.cwd()
    sys.path.insert(0, str(repo))
    server.install_shims(repo, "cpu")
    wrapper = server.make_tracker_wrapper(tracker, param, dataset_name)
    import importlib

    module = importlib.import_module(f"lib.test.parameter.{tracker}")
    parameters = module.parameters

    def with_overrides(*args, **kwargs):
        params = parameters(*args, **kwargs)
        server.apply_overrides(params.cfg, overrides)
        return params

    module.parameters = with_overrides
    expected = Path(wrapper.get_parameters().checkpoint)
    expected.parent.mkdir(parents=True, exist_ok=True)
    expected.symlink_to(Path(ckpt).resolve())
    from lib.test.evaluation.data import Sequence

    init = [float(v) for v in box.split(",")]
    seq = Sequence("mosebench", frames, dataset_name, np.array([init] * len(frames)))
    out = wrapper.run_sequence(seq, debug=0)
    print("BOXES " + json.dumps([[float(v) for v in b] for b in out["target_bbox"]]), flush=True)


if __name__ == "__main__":
    main()
