"""TraX server for LoRAT (LitingLin/LoRAT, package ``trackit``); runs in LoRAT's own environment.

Started by the harness (method ``lorat``, ``adapters/lorat.py``) with the checkout as working
directory and ``TRAX_SOCKET`` set::

    /envs/lorat/bin/python harness/trax_lorat_server.py --repo /src/LoRAT --variant B-224 \\
        --weights /ckpt/lorat_b224.bin --device cpu

It runs the checkout's *own* VOT entry path: ``main.py LoRAT <variant> --mixin_config vot``, the
pipeline that the checkout's ``vot_main.py`` gives the VOT toolkit (``siamese_tracker_eval_vot``:
frames read from the paths TraX sends, decoded with TurboJPEG, template/search cropping, the
model, the 0.45-weighted Hanning window, boxes back as TraX rectangles). What this file adds, from
the outside, without editing the checkout:

* the reply properties of :mod:`harness.trax_server`'s protocol: ``trax.Server`` is replaced (in
  this process only) by a subclass that adds to every object of every reply ``time`` (seconds from
  the request's arrival to the reply: TurboJPEG decoding + pre-processing + model +
  post-processing; the init frame's reply is immediate, the template is encoded with the first
  tracked frame, as in the original), ``peak_rss_bytes`` (this process's resident-memory
  high-water mark), on CUDA ``peak_gpu_allocated_bytes``/``peak_gpu_reserved_bytes``, and
  ``score``: the original's own ``confidence`` property (the sigmoid score-map value, in [0, 1], at
  the position that the 0.45-weighted Hanning window picks), which ``method.confidence_threshold``
  compares with (off by default);
* no downloads: the backbone is built without its pretrained weights (config
  ``model.backbone.pretrained: false``, trackit's own switch; the DINOv2 file would otherwise come
  from ``dl.fbaipublicfiles.com``) unless ``--pretrained-backbone``, and even then torch.hub may
  only read the file from its cache (``$TORCH_HOME/hub/checkpoints``);
* single-object VOT mode (``run.data.eval.multiobject_mode: false``): the harness opens one
  session per object, and only in that mode does the original report its ``confidence``;
* a check that TurboJPEG loads (trackit would silently fall back to PIL, which decodes differently);
* ``--no-amp`` switches the config's fp16 autocast off (the original keeps it on, CPU included).

``--write-random-weights OUT --seed N`` instead writes seeded random weights of the variant's
inference model (safetensors, all parameters) for tests and benchmarks, and exits.

Stdlib only at import (plus the tracker environment's ``trax``, ``torch`` and the checkout when run).
Messages go to stderr; the session runs over the socket.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import time
from pathlib import Path


def _memory_properties() -> dict[str, str]:
    """This process's peaks: resident memory (Linux ``ru_maxrss`` is in KiB) and, on CUDA, torch's."""
    props = {"peak_rss_bytes": str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        props["peak_gpu_allocated_bytes"] = str(torch.cuda.max_memory_allocated())
        props["peak_gpu_reserved_bytes"] = str(torch.cuda.max_memory_reserved())
    return props


def install_timed_server(name: str) -> None:
    """Replace ``trax.Server`` (looked up at call time by trackit's VOT wrapper) with a subclass
    that times each request and adds the properties described in the module docstring."""
    import trax

    base = trax.Server

    class TimedServer(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("tracker_name", name)
            kwargs.setdefault("tracker_description", "LoRAT (trackit) behind TraX (mosebench)")
            self._t0 = time.perf_counter()
            super().__init__(*args, **kwargs)

        def wait(self):
            request = super().wait()
            self._t0 = time.perf_counter()
            return request

        def status(self, objects, properties=None):
            dt = time.perf_counter() - self._t0
            extra = {"time": f"{dt:.9f}", **_memory_properties()}
            out = []
            for region, props in objects:
                props = {str(k): str(v) for k, v in dict(props or {}).items()}
                if "confidence" in props:
                    props["score"] = props["confidence"]
                out.append((region, {**props, **extra}))
            return super().status(out, properties)

    trax.Server = TimedServer


def hub_cache_only() -> None:
    """Make ``torch.hub.load_state_dict_from_url`` (DINOv2's pretrained file) refuse to download:
    a file missing from torch's hub cache is an error naming the path and the URL."""
    import torch.hub

    original = torch.hub.load_state_dict_from_url

    def cached_only(url, model_dir=None, *args, **kwargs):
        path = Path(model_dir or Path(torch.hub.get_dir()) / "checkpoints") / Path(url).name
        if not path.exists():
            raise FileNotFoundError(f"--pretrained-backbone: {path} is missing and downloads are off; "
                                    f"fetch {url} there yourself (or point TORCH_HOME at a cache that has it)")
        return original(url, model_dir, *args, **kwargs)

    torch.hub.load_state_dict_from_url = cached_only


def check_turbojpeg() -> None:
    """Refuse to start when TurboJPEG cannot load: trackit would decode every frame with PIL instead
    (printing one line per frame), which is not the original's decoding."""
    try:
        from turbojpeg import TurboJPEG

        TurboJPEG()
    except Exception as exc:  # noqa: BLE001 - a missing package, library or symbol: all the same fix
        raise SystemExit(f"trax_lorat_server: TurboJPEG does not load ({exc}); install Debian's libturbojpeg0 "
                         "(apt-get install libturbojpeg0) and PyTurboJPEG<2 in the tracker environment") from None


def config_overrides(no_amp: bool, pretrained_backbone: bool) -> list[dict]:
    """trackit mixin rules applied after the variant's config and the ``vot`` mixin."""
    rules = [{"path": "run.data.eval.multiobject_mode", "value": False}]
    if not pretrained_backbone:  # trackit's own switch (backbone builder: config 'pretrained' wins)
        rules.append({"path": "model.backbone.pretrained", "value": False})
    if no_amp:
        rules.append({"path": "run.runner.test.inference_engine.auto_mixed_precision.enabled", "value": False})
    return rules


def _load_entry_parser(repo: Path):
    """The checkout's ``main.py`` argument parser (so the run takes exactly the original's options)."""
    spec = importlib.util.spec_from_file_location("lorat_main_entry", repo / "main.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"trax_lorat_server: {repo / 'main.py'} not found; --repo must be a LoRAT checkout")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.setup_arg_parser()


def serve(opts: argparse.Namespace) -> None:
    repo = Path(opts.repo).resolve()
    check_turbojpeg()
    install_timed_server(f"lorat-{opts.variant}")
    hub_cache_only()
    import trackit.core.boot.main as boot
    from trackit.core.runtime.utils.mixin_rule import apply_mixin_rule

    load_config = boot.load_config

    def load_config_with_overrides(runtime_vars):
        config = load_config(runtime_vars)
        for rule in config_overrides(opts.no_amp, opts.pretrained_backbone):
            apply_mixin_rule(rule, config, None)
        return config

    boot.load_config = load_config_with_overrides
    argv = [opts.method, opts.variant, "--device", opts.device, "--quiet", "--dry_run", "--disable_file_logging",
            "--seed", str(opts.seed), "--run_id", f"mosebench-{os.getpid()}", "--mixin_config", "vot"]
    for mixin in opts.mixin:
        argv += ["--mixin_config", mixin]
    for weights in opts.weights:
        argv += ["--weight_path", str(Path(weights).resolve())]
    args = _load_entry_parser(repo).parse_args(argv)
    args.root_path = str(repo)
    boot.main(args)
    print(f"[lorat-{opts.variant}] session ended", file=sys.stderr, flush=True)


def write_random_weights(opts: argparse.Namespace) -> None:
    """Seeded random weights of the variant's inference model (every parameter) as safetensors."""
    import safetensors.torch
    import torch
    from trackit.core.boot.funcs.main.load_config import load_config
    from trackit.models import ModelManager
    from trackit.models.methods.builder import create_model_build_context

    runtime_vars = argparse.Namespace(config_path=str(Path(opts.repo).resolve() / "config"), method_name=opts.method,
                                      config_name=opts.variant, mixin_config=["vot", *opts.mixin])
    config = load_config(runtime_vars)
    config["model"]["backbone"]["pretrained"] = False
    manager = ModelManager(create_model_build_context(config), opts.seed)  # trackit seeds every RNG for the build
    model = manager.create_unmanaged(torch.device("cpu"), optimize_for_inference=True, load_pretrained=False)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    safetensors.torch.save_file(state, opts.write_random_weights)
    n = sum(v.numel() for v in state.values())
    print(f"wrote {opts.write_random_weights}: {len(state)} tensors, {n} values (seed {opts.seed})", file=sys.stderr)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", default=".", help="the LoRAT checkout (main.py, config/, trackit/); default: cwd")
    p.add_argument("--method", default="LoRAT", help="config family under config/ (default LoRAT)")
    p.add_argument("--variant", default="B-224", help="config under config/<method>/ (B-224, L-378, ...)")
    p.add_argument("--weights", action="append", default=[], help="model weights (repeatable; loaded in order)")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    p.add_argument("--seed", type=int, default=42, help="trackit's --seed (its default 42)")
    p.add_argument("--mixin", action="append", default=[], help="extra trackit mixin config (repeatable)")
    p.add_argument("--pretrained-backbone", action="store_true",
                   help="let trackit load the DINOv2 backbone from torch's hub cache (never downloads)")
    p.add_argument("--no-amp", action="store_true", help="switch the config's fp16 autocast off")
    p.add_argument("--write-random-weights", metavar="OUT", help="write seeded random weights and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    repo = Path(opts.repo).resolve()
    if not (repo / "trackit").is_dir() or not (repo / "config" / opts.method / opts.variant).is_dir():
        raise SystemExit(f"trax_lorat_server: {repo} is not a LoRAT checkout with config/{opts.method}/{opts.variant}/")
    sys.path.insert(0, str(repo))
    if opts.write_random_weights:
        write_random_weights(opts)
    else:
        serve(opts)


if __name__ == "__main__":
    main()
