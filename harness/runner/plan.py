"""From a resolved experiment to work: capability checks, datasets, videos per cell, shards."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import Cell, ClusterConfig, DatasetConfig, ExperimentConfig, adapter_name, expand_cells
from harness.errors import CapabilityError, ConfigError, DataError, MissingDependencyError, MosebenchError
from harness.runner.identity import CellIdentity, CodeIdentity, code_identity, data_identity, git_state

if TYPE_CHECKING:
    from harness.data.dataset import Dataset
    from harness.settings.base import Setting


@dataclass(frozen=True)
class WorkItem:
    """Some videos of one cell, predicted in one go (the method loads once per item)."""

    cell: str
    videos: tuple[str, ...]


@dataclass(frozen=True)
class Shard:
    """One array task: a checkpointable unit of work."""

    index: int
    items: tuple[WorkItem, ...]

    @property
    def n_videos(self) -> int:
        return sum(len(i.videos) for i in self.items)

    def describe(self) -> str:
        return ", ".join(f"{i.cell}[{len(i.videos)}]" for i in self.items)


def method_class(name: str, cfg: ExperimentConfig) -> type:
    from harness import registry

    return registry.get(adapter_name(name, cfg.method.get(name)))


def option_names(cls: type) -> list[str]:
    """The method's sub-config keys (fields of its ``Config`` dataclass)."""
    from dataclasses import fields, is_dataclass

    schema = getattr(cls, "Config", None)
    return [f.name for f in fields(schema)] if schema is not None and is_dataclass(schema) else []


def retry_overrides_for(cls: type, overrides: dict) -> dict:
    """The retry policy's method overrides that this method's Config has (others do not apply)."""
    names = set(option_names(cls))
    return {k: v for k, v in overrides.items() if k in names}


def make_setting(cfg: ExperimentConfig, name: str) -> Setting:
    """Instantiate a setting with its seed and typed options."""
    from harness import settings
    from harness.config import merge_into

    scfg = cfg.setting[name]
    cls = settings.get(name)
    schema = getattr(cls, "Config", None)
    if schema is None:
        if scfg.options:
            raise ConfigError(f"setting '{name}' takes no options, got: {', '.join(sorted(scfg.options))}")
        return cls(seed=scfg.seed)
    return cls(seed=scfg.seed, cfg=merge_into(schema, dict(scfg.options), where=f"setting.{name}.options"))


def qualifying_methods(setting: Setting) -> list[str]:
    """Registered methods whose capabilities satisfy ``setting``."""
    from harness import registry

    out = []
    for name in registry.names():
        try:
            cls = registry.get(name)
        except MosebenchError:
            continue
        if setting.unsupported_reason(cls.capabilities) is None:
            out.append(name)
    return out


def check_capabilities(cfg: ExperimentConfig, cells: tuple[Cell, ...]) -> None:
    """Refuse, before any work, every (method, setting) the method cannot run."""
    from harness import registry

    problems = []
    retry_keys = set(cfg.retry.method_overrides)
    for name in sorted({c.method for c in cells}):  # option errors before any work, too
        raw = {k: v for k, v in (cfg.method.get(name) or {}).items() if k != "adapter"}
        cls = method_class(name, cfg)
        try:
            registry.build_config(cls, raw)
        except ConfigError as exc:  # name the key the user wrote, not only the adapter class
            raise ConfigError(f"method.{name}: {exc}") from exc
        missing = registry.default.missing_requirements(adapter_name(name, cfg.method.get(name)))
        if missing:
            raise MissingDependencyError(f"method '{name}' needs " + "; ".join(
                f"module '{m}' (install: {hint})" for m, hint in missing.items()))
        retry_keys -= set(option_names(cls))
    if retry_keys:
        raise ConfigError(f"retry.method_overrides: no method of this experiment has option(s) "
                          f"{', '.join(sorted(retry_keys))}")
    for cell in cells:
        cls = method_class(cell.method, cfg)
        setting = make_setting(cfg, cell.setting)
        why = setting.unsupported_reason(cls.capabilities)
        if why:
            ok = qualifying_methods(setting)
            problems.append(f"method '{cell.method}' cannot run setting '{cell.setting}': {why} "
                            f"(it declares {cls.capabilities.describe()}); methods that can: "
                            f"{', '.join(ok) or 'none registered'}")
    if problems:
        raise CapabilityError("; ".join(problems))


SYNTH_SPEC = "mosebench_synth.json"


def ensure_dataset(ds: DatasetConfig) -> Path:
    """The dataset root; a synthetic set is generated there first when missing (atomically), or
    regenerated when a set mosebench generated there earlier had another spec."""
    import json
    from dataclasses import asdict

    root = Path(ds.root)
    if ds.synth is None:
        if not root.exists():
            raise DataError(f"dataset '{ds.name}': root {root} does not exist; download it or set "
                            f"dataset.{ds.name}.root=PATH")
        return root
    spec = asdict(ds.synth)
    marker = root / SYNTH_SPEC
    if root.exists():
        if not marker.is_file():
            return root  # not made by us (e.g. a test fixture): use as is
        if json.loads(marker.read_text()) == spec:
            return root
    from harness.data.synth import generate

    s = ds.synth
    tmp = root.with_name(f".{root.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"generating synthetic dataset '{ds.name}' ({s.videos} videos x {s.frames} frames, "
          f"{s.height}x{s.width}, seed {s.seed}) in {root}", flush=True)
    generate(tmp, videos=s.videos, frames=s.frames, size=(s.height, s.width), seed=s.seed,
             annotate_every=s.annotate_every)
    (tmp / SYNTH_SPEC).write_text(json.dumps(spec))
    if marker.is_file():  # an older synthetic set of ours with another spec
        shutil.rmtree(root)
    try:
        os.replace(tmp, root)
    except OSError:  # another process generated it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def open_dataset(ds: DatasetConfig) -> Dataset:
    from harness.data import open_dataset as _open

    return _open(Path(ds.root), layout=ds.layout, meta=ds.meta, split=ds.split, resolution=ds.resolution)


def dataset_videos(ds: DatasetConfig, dataset: Any) -> tuple[str, ...]:
    names = tuple(dataset.videos)
    if ds.videos:
        missing = [v for v in ds.videos if v not in names]
        if missing:
            raise DataError(f"dataset '{ds.name}' ({ds.root}) has no video(s) {', '.join(missing)}; "
                            f"it has {len(names)}, e.g. {', '.join(names[:5])}")
        names = tuple(ds.videos)
    if ds.max_videos > 0:
        names = names[: ds.max_videos]
    return names


def plan_shards(pending: dict[str, list[str]], cluster: ClusterConfig) -> list[Shard]:
    """Split pending (cell -> videos) into shards.

    ``videos_per_shard > 0``: each shard is one cell's chunk (SLURM: one array task per chunk).
    Otherwise ``jobs`` contiguous chunks of the flat (cell, video) list, so a worker loads each
    method once per cell it touches.
    """
    flat = [(c, v) for c, vids in pending.items() for v in vids]
    if not flat:
        return []
    groups: list[list[tuple[str, str]]] = []
    if cluster.videos_per_shard > 0:
        for c, vids in pending.items():
            for i in range(0, len(vids), cluster.videos_per_shard):
                groups.append([(c, v) for v in vids[i:i + cluster.videos_per_shard]])
    else:
        k = max(1, min(cluster.jobs, len(flat)))
        size = math.ceil(len(flat) / k)
        groups = [flat[i:i + size] for i in range(0, len(flat), size)]
    shards = []
    for idx, group in enumerate(groups):
        items: list[WorkItem] = []
        for c, v in group:
            if items and items[-1].cell == c:
                items[-1] = WorkItem(c, (*items[-1].videos, v))
            else:
                items.append(WorkItem(c, (v,)))
        shards.append(Shard(idx, tuple(items)))
    return shards


def load_plugins(cfg: ExperimentConfig) -> None:
    if cfg.plugins:
        from harness import registry

        registry.load_plugins(cfg.plugins)


def resolve_cells(cfg: ExperimentConfig) -> tuple[Cell, ...]:
    load_plugins(cfg)
    cells = expand_cells(cfg)
    for c in cells:
        if c.dataset not in cfg.dataset:
            raise ConfigError(f"cell {c.name}: no dataset config '{c.dataset}'")
    return cells


def method_code(cfg: ExperimentConfig, method: str, git: tuple[str, str]) -> CodeIdentity:
    """The code identity of method ``method`` as this experiment configures it."""
    from harness import registry

    cls = method_class(method, cfg)
    raw = {k: v for k, v in (cfg.method.get(method) or {}).items() if k != "adapter"}
    return code_identity(cls, registry.build_config(cls, raw), cfg.plugins, git)


@dataclass(frozen=True)
class Planned:
    """What a run will do: its cells, each dataset's videos and each cell's code + data identity."""

    cells: tuple[Cell, ...]
    videos: Mapping[str, tuple[str, ...]]  # dataset name -> planned videos
    identities: Mapping[str, CellIdentity]  # cell name -> identity

    def plan_json(self) -> dict:
        return {"cells": {c.name: {"method": c.method, "setting": c.setting, "dataset": c.dataset,
                                   "videos": list(self.videos[c.dataset]),
                                   "identity": self.identities[c.name].to_json()} for c in self.cells}}


def plan_run(cfg: ExperimentConfig) -> Planned:
    """Check the experiment (capabilities, options), make missing synthetic data, list the videos
    and fingerprint code and data. Writes nothing into the run directory."""
    cells = resolve_cells(cfg)
    check_capabilities(cfg, cells)
    git = git_state()
    videos: dict[str, tuple[str, ...]] = {}
    data = {}
    for name in sorted({c.dataset for c in cells}):
        ds = cfg.dataset[name]
        ensure_dataset(ds)
        opened = open_dataset(ds)
        videos[name] = dataset_videos(ds, opened)
        data[name] = data_identity(opened, videos[name])
    code = {m: method_code(cfg, m, git) for m in sorted({c.method for c in cells})}
    return Planned(cells, videos, {c.name: CellIdentity(code[c.method], data[c.dataset]) for c in cells})
