"""``lorat``: LoRAT (ECCV'24, LitingLin/LoRAT, package ``trackit``) of TABLE 10, out of process.

LoRAT runs from its own checkout in its own environment (``docs/trackers_lorat.md``: pins and
commands) behind mosebench's TraX server ``harness/trax_lorat_server.py``, which runs the checkout's
own VOT entry path (``main.py LoRAT <variant> --mixin_config vot``, as its ``vot_main.py`` gives
the VOT toolkit): frames as paths decoded with TurboJPEG, rectangle regions, its evaluation config
(including fp16 autocast, on CPU too, unless ``amp: false``). The harness side is the ``trax``
method kind (:mod:`adapters.trax_method`): one process per object and video, box prompts (a mask
prompt gives its bounding box), box output (VOT setting), the reply's ``score`` (LoRAT's
confidence) in the results, ``confidence_threshold`` off by default.

Required options: ``python`` (the environment's interpreter), ``repo`` (the checkout: ``main.py``,
``config/``, ``trackit/``) and ``ckpt`` (the weights, ``.bin``/``.safetensors`` as released).
``variant`` names the config under ``config/LoRAT/`` (B/L variants are configs:
``configs/method/lorat-b.yaml`` = B-224, ``lorat-l.yaml`` = L-378, TABLE 10's LoRAT-B/L).
Released checkpoints hold only the trained parameters (trackit saves with
``exclude_frozen_parameters``): the frozen DINOv2 backbone then comes from torch's hub cache with
``pretrained_backbone: true`` (never downloaded here). Seeded random weights with every parameter
(tests, benchmarks): ``harness/trax_lorat_server.py --write-random-weights``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from adapters.trax_method import REPO_ROOT, TraxConfig, TraxMethod
from harness.errors import ConfigError
from harness.options import option

SERVER = REPO_ROOT / "harness" / "trax_lorat_server.py"


@dataclass(frozen=True)
class LoRATConfig(TraxConfig):
    """Options of LoRAT (and those of :class:`~adapters.trax_method.TraxConfig`).

    Attributes:
        ckpt: the weights file (``.bin``/``.safetensors``; as released, or seeded random).
        variant: the config under ``config/LoRAT/`` (``B-224``, ``B-378``, ``L-224``, ``L-378``, ...).
        pretrained_backbone: build the DINOv2 backbone from torch's hub cache
            (``$TORCH_HOME/hub/checkpoints/dinov2_vit*14_pretrain.pth``; never downloaded): needed
            with released checkpoints, which hold only the trained parameters.
        amp: the config's fp16 autocast (the original keeps it on, CPU included); ``false``: fp32.
        device: ``auto`` (the run's device), ``cpu`` or ``cuda[:N]``.
        seed: trackit's ``--seed`` (its default 42; seeds the model build before weights load).
        mixins: extra trackit mixin configs, applied after ``vot``.
    """

    command: str = str(SERVER)
    ckpt: str = ""
    variant: str = "B-224"
    pretrained_backbone: bool = False
    amp: bool = True
    device: str = "auto"
    seed: int = option(42, ge=0)
    mixins: tuple[str, ...] = ()
    startup_timeout_s: float = option(300.0, gt=0)
    frame_timeout_s: float = option(600.0, gt=0)

    def __post_init__(self) -> None:
        if not self.python:
            raise ConfigError("python: no LoRAT environment; set method.python=/path/to/lorat-env/bin/python "
                              "(docs/trackers_lorat.md says how to create it)")
        if not self.repo:
            raise ConfigError("repo: no checkout; set method.repo=/path/to/LoRAT (the folder with main.py, "
                              "config/ and trackit/)")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device: {self.device!r}; use auto, cpu or cuda[:N]")
        super().__post_init__()
        repo = Path(self.repo).expanduser()
        if not (repo / "main.py").is_file() or not (repo / "trackit").is_dir():
            raise ConfigError(f"repo: {repo} has no main.py and trackit/; point method.repo at the LoRAT checkout")
        if not (repo / "config" / "LoRAT" / self.variant / "config.yaml").is_file():
            have = sorted(p.parent.name for p in (repo / "config" / "LoRAT").glob("*/config.yaml"))
            raise ConfigError(f"variant: no config/LoRAT/{self.variant}/config.yaml in {repo}; "
                              f"available: {', '.join(have) or 'none'}")
        if not self.ckpt or not Path(self.ckpt).expanduser().is_file():
            raise ConfigError(f"ckpt: {self.ckpt or '(empty)'} is not a file; set method.ckpt=/path/to/the LoRAT "
                              "weights (.bin/.safetensors)")

    def command_args(self, device: str = "cpu") -> tuple[str, ...]:
        out = ["--repo", str(Path(self.repo).expanduser().resolve()), "--variant", self.variant,
               "--weights", str(Path(self.ckpt).expanduser().resolve()),
               "--device", device if self.device == "auto" else self.device, "--seed", str(self.seed)]
        out += ["--pretrained-backbone"] if self.pretrained_backbone else []
        out += [] if self.amp else ["--no-amp"]
        for mixin in self.mixins:
            out += ["--mixin", mixin]
        return (*out, *map(str, self.args))


class LoRAT(TraxMethod):
    """LoRAT (ECCV'24, LitingLin/LoRAT) behind TraX, out of process."""

    name: ClassVar[str] = "lorat"
    Config = LoRATConfig
    requires = {"trax": "pip install vot-trax==4.0.2 (the TraX client library, libtrax)"}
    environment: ClassVar[str] = (
        "its own env (docs/trackers_lorat.md): torch>=2.0 (+ a torchvision that imports), vot-trax==4.0.2, "
        "PyTurboJPEG<2 + Debian libturbojpeg0, timm, safetensors, wandb, fvcore, exifread, pyzmq, tabulate, pyyaml")
