"""Typed experiment configuration: dataclass schemas, YAML groups under ``configs/``, dotlist overrides.

The schema dataclasses are not ``frozen`` only because OmegaConf makes nested frozen dataclasses
read-only and then refuses to merge into them; treat resolved configs as immutable.

Merge order: schema defaults -> YAML (a group file, its ``defaults: [other, ...]`` parents first) ->
the experiment file's per-name overrides -> command-line dotlist. Plain OmegaConf, no global state.

Groups (``configs/<group>/<name>.yaml``): ``experiment``, ``method``, ``setting``, ``dataset``,
``cluster``. On the command line::

    experiment=demo method=sam2 method.size=l setting=box cluster=slurm cluster.partition=gpu

``method=/setting=/dataset=`` select names (comma lists allowed) and narrow the experiment's cells;
``method.KEY=V`` with one method selected means ``method.<that method>.KEY=V``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any  # noqa: UP035 - OmegaConf needs typing generics

from harness.errors import ConfigError

GROUPS = ("experiment", "method", "setting", "dataset", "cluster")
RESERVED_METHOD_KEYS = ("defaults", "adapter")


@dataclass
class SynthSpec:
    """How to generate a synthetic MOSE-like set when the dataset root is missing."""

    videos: int = 4
    frames: int = 12
    height: int = 240
    width: int = 320
    seed: int = 0
    annotate_every: int = 1


@dataclass
class DatasetConfig:
    name: str = ""
    layout: str = "mose"  # mose | davis
    root: str = ""
    meta: str | None = None
    split: str | None = None
    resolution: str = "480p"
    protocol: str = "mose"  # scoring protocol passed to harness.metrics.score
    videos: list[str] | None = None  # subset, in this order
    max_videos: int = 0  # 0 = all
    synth: SynthSpec | None = None  # generate into `root` when missing (no root: one derived from the spec)


@dataclass
class SettingConfig:
    name: str = ""
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the Setting class


@dataclass
class ClusterConfig:
    """Where shards run. ``executor``: inline (in-process), local (submitit subprocesses), slurm."""

    name: str = "local"
    executor: str = "local"
    jobs: int = 2  # shards over the whole experiment when videos_per_shard == 0
    videos_per_shard: int = 0  # > 0: each shard is one cell's chunk of this many videos
    timeout_min: int = 120
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    gpus: int = 0  # per node (per shard); local: GPUs per job (device=cuda implies at least 1)
    gpu_ids: list[int] = field(default_factory=list)  # local: GPUs to spread jobs over (default 0..)
    cpus: int = 2  # per task
    mem: str | None = None  # e.g. "32G"
    array_parallelism: int = 64
    extra_sbatch: list[str] = field(default_factory=list)  # e.g. ["--exclusive", "--reservation=x"]
    setup: list[str] = field(default_factory=list)  # shell lines run before the job (module load ...)
    signal_delay_s: int = 90
    max_num_timeout: int = 3  # requeues after preemption/timeout
    poll_s: float = 1.0
    folder: str | None = None  # submitit logs; default <run_dir>/jobs


@dataclass
class MlflowConfig:
    enabled: bool = True
    tracking_uri: str | None = None  # default sqlite:///<results>/mlflow.db
    experiment: str | None = None  # default: the experiment name


@dataclass
class RetryConfig:
    """Failed shards are resubmitted up to ``attempts`` times, the method config updated with
    ``method_overrides`` (e.g. ``{offload_video_to_cpu: true}``) on each retry."""

    attempts: int = 0
    method_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class CellGroup:
    """A product of names: every method x every setting x every dataset."""

    methods: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)


@dataclass
class ExperimentConfig:
    name: str = "demo"
    description: str = ""
    cells: list[CellGroup] = field(default_factory=list)
    method: dict[str, Any] = field(default_factory=dict)  # method name -> its sub-config
    setting: dict[str, SettingConfig] = field(default_factory=dict)
    dataset: dict[str, DatasetConfig] = field(default_factory=dict)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    device: str = "cpu"
    writer_threads: int = 2  # background PNG writers per video (encoding releases the GIL)
    plugins: list[str] = field(default_factory=list)  # modules / .py files with MOSEBENCH_ADAPTERS
    results: str = "results"
    run_id: str | None = None  # default: a hash of what determines the numbers
    force: bool = False
    progress: bool = True


@dataclass(frozen=True)
class Cell:
    """One (method, setting, dataset) unit of work; ``name`` is its directory in the run."""

    method: str
    setting: str
    dataset: str

    @property
    def name(self) -> str:
        return f"{self.method}--{self.setting}--{self.dataset}"


def config_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``explicit``, else ``$MOSEBENCH_CONFIGS``, else the repository's ``configs/``, else ``./configs``."""
    for cand in (explicit, os.environ.get("MOSEBENCH_CONFIGS")):
        if cand:
            return Path(cand)
    repo = Path(__file__).resolve().parent.parent / "configs"
    return repo if repo.is_dir() else Path("configs")


def available(group: str, cdir: Path) -> list[str]:
    d = cdir / group
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_group_yaml(group: str, name: str, cdir: Path, *, required: bool = True, _seen: tuple = ()) -> dict:
    """Load ``configs/<group>/<name>.yaml`` with its ``defaults`` parents merged in first."""
    from omegaconf import OmegaConf

    path = Path(name) if name.endswith(".yaml") else cdir / group / f"{name}.yaml"
    if not path.is_file():
        if not required:
            return {}
        raise ConfigError(f"no {group} config named '{name}' (looked for {path}); "
                          f"available: {', '.join(available(group, cdir)) or 'none'}")
    if str(path) in _seen:
        raise ConfigError(f"{path}: 'defaults' inheritance loops through {' -> '.join(_seen)}")
    try:
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
    except Exception as exc:  # YAML syntax errors
        raise ConfigError(f"{path}: cannot parse YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    parents = raw.pop("defaults", []) or []
    merged: Any = OmegaConf.create({})
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = OmegaConf.merge(merged, load_group_yaml(group, str(parent), cdir, _seen=(*_seen, str(path))))
    return OmegaConf.to_container(OmegaConf.merge(merged, raw), resolve=False)


def merge_into(schema: Any, *layers: Mapping, where: str) -> Any:
    """Merge plain mappings onto a dataclass schema; unknown keys / bad values -> ConfigError."""
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

    cfg = OmegaConf.structured(schema)
    for layer in layers:
        try:
            cfg = OmegaConf.merge(cfg, layer)
        except ConfigKeyError as exc:
            key = getattr(exc, "full_key", None) or str(exc).split("'")[1]
            cls = getattr(exc, "object_type", None) or (schema if isinstance(schema, type) else type(schema))
            valid = ", ".join(f.name for f in fields(cls))
            raise ConfigError(f"{where}: unknown key '{key}'; valid keys: {valid}") from None
        except OmegaConfBaseException as exc:
            msg = str(exc).splitlines()[0]
            raise ConfigError(f"{where}: {msg} (key '{getattr(exc, 'full_key', '?')}')") from None
    return OmegaConf.to_object(cfg)


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.strip("[]").split(",") if v.strip()]
    return [str(v) for v in value]


def split_overrides(overrides: Sequence[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Separate group selections (``method=sam2``) from dotlist overrides (``method.size=l``)."""
    selections: dict[str, list[str]] = {}
    dotlist: list[str] = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not KEY=VALUE (e.g. method=static cluster=inline)")
        key, value = item.split("=", 1)
        key = key.strip().lstrip("+")
        if key in GROUPS:
            selections[key] = _names(value)
        else:
            dotlist.append(f"{key}={value}")
    return selections, dotlist


def _narrow(cells: list[dict], key: str, chosen: list[str]) -> list[dict]:
    """Restrict cell groups to ``chosen`` names; names no group has replace the group's list."""
    known = {n for c in cells for n in c.get(key, [])}
    out = []
    for c in cells or [{}]:
        keep = [n for n in c.get(key, []) if n in chosen]
        new = [n for n in chosen if n not in known]
        names = keep + new
        if names:
            out.append({**c, key: names})
    return out


def _rewrite_dot(dotlist: list[str], cells: list[dict], cdir: Path | None = None) -> list[str]:
    """``method.size=l`` -> ``method.sam2.size=l`` when exactly one method is selected."""
    out = []
    for item in dotlist:
        key, value = item.split("=", 1)
        head, _, rest = key.partition(".")
        plural = {"method": "methods", "setting": "settings", "dataset": "datasets"}.get(head)
        if plural and rest:
            names = sorted({n for c in cells for n in c.get(plural, [])})
            first = rest.split(".")[0]
            # `setting.box.seed=1` names config 'box' (unused: refused below), not an option 'box'
            other = "." in rest and cdir is not None and first in available(head, cdir)
            if first not in names and not other:
                if len(names) != 1:
                    raise ConfigError(f"override '{item}': several {plural} selected ({', '.join(names)}); "
                                      f"write {head}.<name>.{rest}={value}")
                key = f"{head}.{names[0]}.{rest}"
        out.append(f"{key}={value}")
    return out


def load_experiment(experiment: str = "demo", overrides: Sequence[str] = (), *,
                    cdir: str | os.PathLike | None = None) -> ExperimentConfig:
    """Resolve an experiment: its YAML (+ defaults), the group YAMLs it names, then ``overrides``.

    Returns a fully typed :class:`ExperimentConfig` whose ``setting``/``dataset`` maps hold one
    entry per name used by a cell. Method sub-configs stay mappings here; :func:`method_config`
    types them against the method's ``Config`` class.
    """
    from omegaconf import OmegaConf

    base = config_dir(cdir)
    selections, dotlist = split_overrides(overrides)
    if "experiment" in selections:
        experiment = selections.pop("experiment")[0]
    raw = load_group_yaml("experiment", experiment, base)
    raw.setdefault("name", Path(experiment).stem)
    cells = raw.get("cells") or []
    if not isinstance(cells, list) or not all(isinstance(c, Mapping) for c in cells):
        raise ConfigError(f"experiment '{experiment}': 'cells' must be a list of mappings "
                          "[{methods: [...], settings: [...], datasets: [...]}, ...], got " + repr(cells)[:200])
    cells = [dict(c) for c in cells]
    for group, plural in (("method", "methods"), ("setting", "settings"), ("dataset", "datasets")):
        if group in selections:
            cells = _narrow(cells, plural, selections[group])
    raw["cells"] = cells
    cluster = raw.get("cluster", "local")
    if "cluster" in selections:
        cluster = selections["cluster"][0]
    if isinstance(cluster, str):
        cluster = {"name": cluster}
    cluster = dict(cluster)
    raw["cluster"] = {**load_group_yaml("cluster", cluster.get("name", "local"), base), **cluster}
    try:
        cli = OmegaConf.to_container(OmegaConf.from_dotlist(_rewrite_dot(dotlist, cells, base)))
    except Exception as exc:
        raise ConfigError(f"cannot parse overrides {dotlist}: {exc}") from exc

    cell_names = {p: sorted({n for c in cells for n in c.get(p, [])}) for p in ("methods", "settings", "datasets")}
    # Per-name sections: group YAML, then the experiment's section, then the command line.
    for group, plural, required in (("setting", "settings", False), ("dataset", "datasets", True),
                                    ("method", "methods", False)):
        section = dict(raw.get(group) or {})
        cli_section = cli.pop(group, {}) or {}
        # The experiment may configure names its narrowed cells no longer use; the command line may not.
        for extra in cli_section:
            if extra not in cell_names[plural]:
                raise ConfigError(f"{group}.{extra} configured but no cell uses {group} '{extra}'; "
                                  f"cells use: {', '.join(cell_names[plural]) or 'none'}")
        resolved = {}
        for name in cell_names[plural]:
            layers = [load_group_yaml(group, name, base, required=required),
                      section.get(name) or {}, cli_section.get(name) or {}]
            merged = OmegaConf.to_container(OmegaConf.merge(*layers))
            if group != "method":
                merged.setdefault("name", name)
            resolved[name] = merged
        raw[group] = resolved
    top = merge_into(ExperimentConfig, raw, cli, where=f"experiment '{experiment}'")
    if not top.cells:
        raise ConfigError(f"experiment '{top.name}' has no cells; list them as "
                          "cells: [{methods: [...], settings: [...], datasets: [...]}]")
    check_values(top)
    return derive_synth_roots(top)


def derive_synth_roots(cfg: ExperimentConfig) -> ExperimentConfig:
    """A synthetic dataset without a ``root`` lives in ``<results>/data/<name>-<hash of its spec>``:
    configs with other generation options never share (and regenerate) one folder."""
    import hashlib
    import json
    from dataclasses import asdict

    for name, ds in cfg.dataset.items():
        if ds.synth is not None and not ds.root:
            spec = hashlib.sha1(json.dumps(asdict(ds.synth), sort_keys=True).encode()).hexdigest()[:10]
            ds.root = str(Path(cfg.results) / "data" / f"{name}-{spec}")
    return cfg


_DEVICE = re.compile(r"(cpu|mps|cuda(:\d+)?)")


def check_values(cfg: ExperimentConfig) -> None:
    """Refuse values the schema types cannot (a typo'd device, a negative count) before any work."""
    if not _DEVICE.fullmatch(cfg.device):
        raise ConfigError(f"device must be cpu, cuda, cuda:N or mps, got '{cfg.device}' (key 'device')")
    c = cfg.cluster
    for key, value, low in (("cluster.jobs", c.jobs, 1), ("cluster.videos_per_shard", c.videos_per_shard, 0),
                            ("cluster.timeout_min", c.timeout_min, 1), ("cluster.gpus", c.gpus, 0),
                            ("cluster.cpus", c.cpus, 1), ("cluster.array_parallelism", c.array_parallelism, 1),
                            ("cluster.max_num_timeout", c.max_num_timeout, 0),
                            ("retry.attempts", cfg.retry.attempts, 0), ("writer_threads", cfg.writer_threads, 1)):
        if value < low:
            raise ConfigError(f"{key} must be >= {low}, got {value}")


def expand_cells(cfg: ExperimentConfig) -> tuple[Cell, ...]:
    """Every (method, setting, dataset) of the experiment's cell groups, in order, without duplicates."""
    seen: dict[Cell, None] = {}
    for g in cfg.cells:
        for d in g.datasets:
            for m in g.methods:
                for s in g.settings:
                    seen.setdefault(Cell(m, s, d), None)
    return tuple(seen)


def method_config(method_cls: type, name: str, raw: Mapping[str, Any] | None,
                  overrides: Mapping[str, Any] | None = None) -> Any:
    """Type a method's sub-config against ``method_cls.Config`` (None when the class has none)."""
    data = {k: v for k, v in (raw or {}).items() if k not in RESERVED_METHOD_KEYS}
    schema = getattr(method_cls, "Config", None)
    if schema is None or not is_dataclass(schema):
        extra = {**data, **(overrides or {})}
        if extra:
            raise ConfigError(f"method '{name}' takes no options, got: {', '.join(sorted(extra))}")
        return None
    return merge_into(schema, data, dict(overrides or {}), where=f"method '{name}'")


def adapter_name(name: str, raw: Mapping[str, Any] | None) -> str:
    """The registry name behind a method config (``adapter:`` key, else the config's own name)."""
    return str((raw or {}).get("adapter") or name)


def to_plain(obj: Any) -> Any:
    """Dataclasses / OmegaConf containers -> JSON/YAML-friendly builtins."""
    from dataclasses import asdict

    if is_dataclass(obj) and not isinstance(obj, type):
        return to_plain(asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if hasattr(obj, "value") and type(obj).__module__ != "builtins":  # enums
        return obj.value
    return obj


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists kept as their string form)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
