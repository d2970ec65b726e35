"""``seqtrack``, ``aqatrack``, ``odtrack``, ``sutrack``: the OSTrack-family trackers of TABLE 10, out of process.

Each runs from its own checkout in its own environment (``scripts/make_tracker_env.sh``; pins and
patches in ``docs/trackers.md``) behind mosebench's TraX server ``harness/trax_ostrack_server.py``,
which drives the checkout's test API as its ``Tracker(name, yaml, dataset_name).run_sequence``
does. The harness side is the ``trax`` method kind (:mod:`adapters.trax_method`): one process per
object and video, box prompts (a mask prompt gives its bounding box), box output (VOT setting).

Required options: ``python`` (the tracker environment's interpreter), ``repo`` (the checkout: the
folder holding ``lib/`` and ``experiments/``, for SeqTrack ``VideoX/SeqTrack``) and ``ckpt``
(``{'net': state_dict}``, as released). ``param`` names the yaml (B/L variants are configs:
``configs/method/odtrack-b.yaml`` ...). ``device`` defaults to the run's device.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from adapters.trax_method import REPO_ROOT, TraxConfig, TraxMethod
from harness.errors import ConfigError

SERVER = REPO_ROOT / "harness" / "trax_ostrack_server.py"


@dataclass(frozen=True)
class OSTrackFamilyConfig(TraxConfig):
    """Options of an OSTrack-family tracker (and those of :class:`~adapters.trax_method.TraxConfig`).

    Attributes:
        ckpt: the checkpoint file (``{'net': state_dict}``).
        param: the yaml under ``experiments/<tracker>/`` (without ``.yaml``); empty: the tracker's default.
        dataset_name: selects the yaml's per-dataset test entries (template update interval and
            threshold); names not listed there use ``DEFAULT``, as MOSEv2 does.
        device: ``auto`` (the run's device), ``cpu`` or ``cuda``.
        threads: torch threads in the tracker process (0: torch's default).
        cfg: overrides of the tracker's config after its yaml (``KEY.SUB=value`` strings).
    """

    command: str = str(SERVER)
    ckpt: str = ""
    param: str = ""
    dataset_name: str = "mose"
    device: str = "auto"
    threads: int = 0
    cfg: tuple[str, ...] = ()
    tracker: ClassVar[str] = ""
    default_param: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not self.python:
            raise ConfigError("python: no tracker environment; set method.python=/path/to/<tracker>-env/bin/python "
                              "(create one with scripts/make_tracker_env.sh, docs/trackers.md)")
        if not self.repo:
            raise ConfigError("repo: no checkout; set method.repo=/path/to/the tracker's checkout (the folder with "
                              "lib/ and experiments/)")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device: {self.device!r}; use auto, cpu or cuda")
        super().__post_init__()
        repo = Path(self.repo).expanduser()
        if not (repo / "lib" / "test" / "tracker" / f"{self.tracker}.py").is_file():
            raise ConfigError(f"repo: {repo} has no lib/test/tracker/{self.tracker}.py; point method.repo at the "
                              f"{self.tracker} checkout (SeqTrack: VideoX/SeqTrack)")
        yaml = repo / "experiments" / self.tracker / f"{self.param or self.default_param}.yaml"
        if not yaml.is_file():
            have = sorted(p.stem for p in yaml.parent.glob("*.yaml"))
            raise ConfigError(f"param: no {yaml}; available: {', '.join(have) or 'none'}")
        if not self.ckpt or not Path(self.ckpt).expanduser().is_file():
            raise ConfigError(f"ckpt: {self.ckpt or '(empty)'} is not a file; set method.ckpt=/path/to/the released "
                              "checkpoint (.pth.tar with a 'net' state_dict)")
        for item in self.cfg:
            if "=" not in item:
                raise ConfigError(f"cfg: {item!r} is not KEY.SUB=value")

    def command_args(self, device: str = "cpu") -> tuple[str, ...]:
        dev = device if self.device == "auto" else self.device
        out = ["--tracker", self.tracker, "--param", self.param or self.default_param,
               "--ckpt", str(Path(self.ckpt).expanduser().resolve()), "--dataset-name", self.dataset_name,
               "--device", dev, "--threads", str(self.threads)]
        for item in self.cfg:
            out += ["--cfg", item]
        return (*out, *map(str, self.args))


class OSTrackFamily(TraxMethod):
    """An OSTrack-family tracker from its checkout, out of process (see the module docstring)."""

    name: ClassVar[str] = "ostrack-family"
    Config = OSTrackFamilyConfig
    requires = {"trax": "pip install vot-trax==4.0.2 (the TraX client library, libtrax)"}
    environment: ClassVar[str] = ""
    """What the tracker's own environment needs (shown by ``mosebench methods``)."""


_ENV = "its own env (scripts/make_tracker_env.sh {t}): torch>=1.9 (CUDA for speed), vot-trax==4.0.2, opencv, "


@dataclass(frozen=True)
class SeqTrackConfig(OSTrackFamilyConfig):
    # the yaml's encoder PRETRAIN_TYPE 'mae' downloads MAE weights at every build; the checkpoint
    # (loaded strict) replaces every weight anyway, so build from scratch
    cfg: tuple[str, ...] = ("MODEL.ENCODER.PRETRAIN_TYPE=scratch",)
    tracker: ClassVar[str] = "seqtrack"
    default_param: ClassVar[str] = "seqtrack_b256"


@dataclass(frozen=True)
class AQATrackConfig(OSTrackFamilyConfig):
    tracker: ClassVar[str] = "aqatrack"
    default_param: ClassVar[str] = "AQATrack-ep150-full-256"


@dataclass(frozen=True)
class ODTrackConfig(OSTrackFamilyConfig):
    tracker: ClassVar[str] = "odtrack"
    default_param: ClassVar[str] = "baseline"


@dataclass(frozen=True)
class SUTrackConfig(OSTrackFamilyConfig):
    tracker: ClassVar[str] = "sutrack"
    default_param: ClassVar[str] = "sutrack_b224"


class SeqTrack(OSTrackFamily):
    """SeqTrack (CVPR'23, microsoft/VideoX SeqTrack) behind TraX, out of process."""

    name = "seqtrack"
    Config = SeqTrackConfig
    environment = _ENV.format(t="seqtrack") + "timm==0.5.4, easydict, yacs"


class AQATrack(OSTrackFamily):
    """AQATrack (CVPR'24, GXNU-ZhongLab/AQATrack) behind TraX, out of process."""

    name = "aqatrack"
    Config = AQATrackConfig
    environment = _ENV.format(t="aqatrack") + "timm (upstream pins 0.9.16; 0.5.4 works), easydict"


class ODTrack(OSTrackFamily):
    """ODTrack (AAAI'24, GXNU-ZhongLab/ODTrack) behind TraX, out of process."""

    name = "odtrack"
    Config = ODTrackConfig
    environment = _ENV.format(t="odtrack") + "timm==0.5.4, easydict, einops"


class SUTrack(OSTrackFamily):
    """SUTrack (AAAI'25, chenxin-dlut/SUTrack) behind TraX, out of process."""

    name = "sutrack"
    Config = SUTrackConfig
    environment = _ENV.format(t="sutrack") + "timm==0.5.4, easydict, OpenAI clip + its ViT-L/14 weights file"
