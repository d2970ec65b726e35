"""TraX server for the OSTrack-family test API: SeqTrack, AQATrack, ODTrack, SUTrack (tracker's interpreter).

Runs in the tracker's own environment with its checkout as the working directory; imports only the
standard library, numpy, cv2, vot-trax, torch and the checkout's ``lib``. Started by the harness
(``adapters/ostrack_family.py``) as::

    python trax_ostrack_server.py --tracker odtrack --param baseline --ckpt ODTrack_ep0300.pth.tar \
        [--dataset-name mose] [--device cpu|cuda] [--threads N] [--cfg MODEL.X=value ...]

What it does, as the originals' ``lib.test.evaluation.tracker.Tracker(name, yaml, dataset_name)``
with ``run_sequence``: ``get_parameters()`` (the yaml into the family's global cfg), the ``--cfg``
overrides applied *after* it (the call reloads the yaml), ``checkpoint`` set to ``--ckpt``,
``debug`` 0, then ``create_tracker(params)``; frames decoded as ``Tracker._read_image`` does
(``cv2.imread`` + BGR->RGB); ``initialize(image, {'init_bbox': [x, y, w, h]})`` then
``track(image, info)`` with ``info['previous_output']``. One tracker per TraX session (the harness
runs one process per object), built when the session starts, outside the reported time.

Each reply carries, as TraX object properties (see ``harness/trax_server.py``): ``time`` the
tracker step alone (no decoding, CUDA-synchronised), ``score`` when the tracker returns one
(``best_score``/``conf_score``), ``peak_rss_bytes`` (this process's high-water mark) and, on CUDA,
``peak_gpu_allocated_bytes``/``peak_gpu_reserved_bytes``.

Runtime shims for a modern torch (the checkout is never edited; each only when needed):
``torch._six`` (gone in torch 2: reached from test imports through training code), ``visdom``
and ``tensorboardX`` (debug/training only) as stubs, ``.cuda()`` of tensors and modules made
device-aware, ``torch.load`` defaulting to ``weights_only=False`` (released checkpoints hold
more than tensors), torchvision imported without its compiled ops when its build does not
match torch, and ``lib.test.evaluation.local`` (the user's path file) provided in memory.

``--save-random-ckpt PATH --seed N``: build the network as the tracker would and save seeded
random weights as ``{'net': state_dict}`` (tests and benchmarks), then exit.
"""

from __future__ import annotations

import argparse
import collections.abc
import importlib
import inspect
import math
import os
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # trax_server.py beside this file

TRACKERS = ("seqtrack", "aqatrack", "odtrack", "sutrack")
SCORE_KEYS = ("best_score", "conf_score")  # what the family's track() returns as confidence, if anything


class _Stub(types.ModuleType):
    """A module that imports (``from visdom import Visdom`` works) but whose names refuse use: for
    packages only debug/training code touches."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        what = f"{self.__name__}.{attr}"

        def refuse(*_a, **_k):
            raise ImportError(f"'{what}' is stubbed by mosebench's TraX server (debug/training only); install "
                              "the package in the tracker environment to use it")

        return type(attr, (), {"__init__": refuse, "__call__": refuse})


def _stub_if_missing(*names: str) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                sub = ".".join(parts[:i])
                sys.modules.setdefault(sub, _Stub(sub))


def install_shims(repo: Path, device: str) -> None:
    """The modern-torch shims of the module docstring, each applied only where it is needed."""
    import torch

    try:
        import torch._six  # noqa: F401
    except ImportError:  # torch >= 2.0 removed it; the family's loader imports these names
        six = types.ModuleType("torch._six")
        six.string_classes = (str, bytes)
        six.int_classes = int
        six.container_abcs = collections.abc
        six.inf = math.inf
        sys.modules["torch._six"] = six
        torch._six = six
    try:
        import torchvision  # noqa: F401
    except RuntimeError:  # a torchvision build whose compiled ops do not load with this torch
        for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[mod]
        register_fake = torch.library.register_fake
        torch.library.register_fake = lambda op, fn=None, **kw: fn if fn is not None else (lambda f: f)
        try:
            import torchvision  # noqa: F401,F811 - pure-Python parts (transforms, box ops) work
        finally:
            torch.library.register_fake = register_fake
    _stub_if_missing("visdom", "visdom.server", "tensorboardX", "wandb")
    if device != "cuda" and not device.startswith("cuda:"):
        torch.Tensor.cuda = lambda self, *a, **k: self.to(device)
        torch.nn.Module.cuda = lambda self, *a, **k: self.to(device)
    load = torch.load

    def load_full(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return load(*args, **kwargs)

    torch.load = load_full
    _local_settings(repo)


def _local_settings(repo: Path) -> None:
    """``lib.test.evaluation.local`` in memory: the checkout as ``prj_dir`` (where the yamls are),
    a scratch folder for the rest (results are not written by this server)."""
    env = importlib.import_module("lib.test.evaluation.environment")
    scratch = Path(tempfile.mkdtemp(prefix="mosebench-ostrack-"))

    def local_env_settings():
        s = env.EnvSettings()
        s.prj_dir = str(repo)
        s.save_dir = str(scratch)
        s.results_path = str(scratch / "tracking_results")
        s.segmentation_path = str(scratch / "segmentation_results")
        s.network_path = str(scratch / "networks")
        return s

    local = types.ModuleType("lib.test.evaluation.local")
    local.local_env_settings = local_env_settings
    sys.modules["lib.test.evaluation.local"] = local


def _parse_value(text: str):
    """A ``--cfg`` value: int, float, bool, None or string, as YAML would read it."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def apply_overrides(cfg, overrides: list[str]) -> None:
    """``KEY.SUB=value`` onto the family's easydict cfg; an unknown key is an error naming it."""
    for item in overrides:
        key, _, value = item.partition("=")
        node = cfg
        *path, last = key.split(".")
        for p in path:
            if p not in node:
                raise SystemExit(f"--cfg {item}: no key '{p}' in the tracker's config")
            node = node[p]
        if last not in node:
            raise SystemExit(f"--cfg {item}: no key '{last}' in the tracker's config")
        node[last] = _parse_value(value)


def make_tracker_wrapper(name: str, param: str, dataset_name: str):
    """``lib.test.evaluation.tracker.Tracker(name, param, dataset_name)``; AQATrack's also takes a
    ``save_name`` (its results folder name), given the param."""
    from lib.test.evaluation.tracker import Tracker

    accepted = inspect.signature(Tracker.__init__).parameters
    kwargs = {"save_name": param} if "save_name" in accepted else {}
    return Tracker(name, param, dataset_name, **kwargs)


def build_params(wrapper, ckpt: str, overrides: list[str]):
    params = wrapper.get_parameters()  # reloads the yaml into the global cfg: overrides come after
    apply_overrides(params.cfg, overrides)
    params.checkpoint = ckpt
    params.debug = 0
    return params


def save_random_ckpt(wrapper, overrides: list[str], path: str, seed: int) -> None:
    """Build the network exactly as the tracker class does, with seeded random weights, and save it.

    The tracker's constructor loads ``torch.load(checkpoint)['net']`` into its network: both calls
    are intercepted, so the network's own build function runs unchanged and is captured.
    """
    import torch

    captured = []
    load, load_state = torch.load, torch.nn.Module.load_state_dict
    torch.load = lambda *a, **k: {"net": None}
    torch.nn.Module.load_state_dict = lambda self, sd, *a, **k: captured.append(self) if sd is None else load_state(
        self, sd, *a, **k)
    try:
        torch.manual_seed(seed)
        wrapper.create_tracker(build_params(wrapper, "<random>", overrides))
    finally:
        torch.load, torch.nn.Module.load_state_dict = load, load_state
    if not captured:
        raise SystemExit("the tracker loaded no checkpoint into a network; cannot capture it")
    torch.save({"net": captured[0].state_dict(), "mosebench_random_seed": seed}, path)
    n = sum(v.numel() for v in captured[0].state_dict().values())
    print(f"saved seeded random weights (seed {seed}, {n} values) to {path}", file=sys.stderr, flush=True)


class FamilyTracker:
    """The trax_server tracker interface around one OSTrack-family tracker object."""

    def __init__(self, wrapper, params, device: str) -> None:
        import torch

        self.torch = torch
        self.cuda = device.startswith("cuda")
        self.tracker = wrapper.create_tracker(params)
        self.prev: dict = {}
        self.step_time_s: float | None = None
        self.score: float | None = None

    @staticmethod
    def read(path: str):
        """As ``Tracker._read_image``: OpenCV decoding, BGR -> RGB."""
        import cv2

        im = cv2.imread(path)
        if im is None:
            raise OSError(f"cannot read frame {path}")
        return cv2.cvtColor(im, cv2.COLOR_BGR2RGB)

    def _timed(self, call):
        if self.cuda:
            self.torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = call()
        if self.cuda:
            self.torch.cuda.synchronize()
        self.step_time_s = time.perf_counter() - t0
        return out or {}

    def initialize(self, path: str, box) -> None:
        import numpy as np

        image = self.read(path)
        # a list of numpy float64, as the originals' Sequence.init_info gives (their ground truth comes
        # from np.loadtxt): `torch.tensor(box)` in transform_bbox_to_crop is then float64, not float32
        init = {"init_bbox": list(np.asarray(box, dtype=np.float64))}
        self.prev = dict(self._timed(lambda: self.tracker.initialize(image, init)))
        self.box = tuple(float(v) for v in init["init_bbox"])

    def track(self, path: str):
        image = self.read(path)
        info = {"previous_output": self.prev}
        out = self._timed(lambda: self.tracker.track(image, info))
        self.prev = dict(out)
        self.box = tuple(float(v) for v in out["target_bbox"])
        score = next((out[k] for k in SCORE_KEYS if k in out), None)
        self.score = None if score is None else float(getattr(score, "item", lambda: score)())
        return self.box

    def properties(self) -> dict[str, str]:
        props = {}
        if self.score is not None:
            props["score"] = f"{self.score:.9g}"
        if self.cuda:
            props["peak_gpu_allocated_bytes"] = str(self.torch.cuda.max_memory_allocated())
            props["peak_gpu_reserved_bytes"] = str(self.torch.cuda.max_memory_reserved())
        return props


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracker", required=True, choices=TRACKERS, help="lib/test/tracker/<name>.py")
    ap.add_argument("--param", required=True, help="experiments/<tracker>/<param>.yaml")
    ap.add_argument("--ckpt", help="checkpoint ({'net': state_dict}); required unless --save-random-ckpt")
    ap.add_argument("--dataset-name", default="mose", help="selects per-dataset test entries (else DEFAULT)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--cfg", action="append", default=[], metavar="KEY=VALUE", help="config override")
    ap.add_argument("--save-random-ckpt", metavar="PATH")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    repo = Path.cwd()
    if not (repo / "lib" / "test" / "tracker" / f"{args.tracker}.py").is_file():
        raise SystemExit(f"{repo}: no lib/test/tracker/{args.tracker}.py; run with the tracker's checkout "
                         "as the working directory (method.repo)")
    sys.path.insert(0, str(repo))
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    install_shims(repo, args.device)
    wrapper = make_tracker_wrapper(args.tracker, args.param, args.dataset_name)
    if args.save_random_ckpt:
        save_random_ckpt(wrapper, args.cfg, args.save_random_ckpt, args.seed)
        return
    if not args.ckpt or not Path(args.ckpt).is_file():
        raise SystemExit(f"--ckpt {args.ckpt}: no such checkpoint file")
    from trax_server import serve

    def make():
        return FamilyTracker(wrapper, build_params(wrapper, args.ckpt, args.cfg), args.device)

    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    sys.stdout = sys.stderr  # the family prints configs; socket mode keeps stdout off TraX anyway
    serve(make, name=args.tracker, description=f"{args.tracker} {args.param} (mosebench OSTrack-family server)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
