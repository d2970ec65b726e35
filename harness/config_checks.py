"""Checks of a resolved experiment beyond its schema's types and declared ranges.

Numeric ranges live on the schema fields (:func:`harness.options.option`); what is checked here
needs more than one field or a pattern: the device string, names that become folders (run id,
cells, listed videos), duplicate videos, the MLflow URI scheme.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from harness.errors import ConfigError
from harness.options import check_ranges

if TYPE_CHECKING:
    from harness.config import ExperimentConfig

_DEVICE = re.compile(r"(cpu|mps|cuda(:\d+)?)")


def check_values(cfg: ExperimentConfig) -> None:
    """Refuse values the schema types cannot (a typo'd device, a negative count, a name that would
    become a path outside the results) before any work. Numeric ranges are declared on the schema
    fields (:func:`harness.options.option`) and checked by :func:`merge_into`; this adds the rest."""
    from harness.names import check_name

    if not _DEVICE.fullmatch(cfg.device):
        raise ConfigError(f"device must be cpu, cuda, cuda:N or mps, got '{cfg.device}' (key 'device')")
    check_ranges(cfg, where="")
    _check_results_folder(cfg.results)
    if cfg.run_id is not None and cfg.run_id != "":
        check_name(cfg.run_id, what="run_id", fix="a plain folder name such as run_id=baseline1")
    check_name(cfg.name, what="experiment name", fix="a plain name (key 'name')")
    for group in cfg.cells:
        for key in ("methods", "settings", "datasets"):
            for n in getattr(group, key):
                check_name(n, what=f"{key[:-1]} name in cells", fix="a plain config name")
    for name, ds in cfg.dataset.items():
        seen: set[str] = set()
        for v in ds.videos or ():
            check_name(v, what=f"dataset.{name}.videos entry", fix="the name of a video folder")
            if v in seen:
                raise ConfigError(f"dataset.{name}.videos lists '{v}' twice; list each video once")
            seen.add(v)
    uri = cfg.mlflow.tracking_uri
    if cfg.mlflow.enabled and uri and "://" in uri:
        scheme = uri.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme not in _MLFLOW_SCHEMES:
            raise ConfigError(f"mlflow.tracking_uri '{uri}': unknown scheme '{scheme}'; use one of "
                              f"{', '.join(_MLFLOW_SCHEMES)} (e.g. sqlite:///results/mlflow.db or http://host:5000), or mlflow.enabled=false to run without MLflow")


_MLFLOW_SCHEMES = ("sqlite", "file", "http", "https", "databricks", "databricks-uc", "uc", "postgresql", "mysql",
                   "mssql")


def _check_results_folder(results: str) -> None:
    """``results`` must be a folder or creatable as one (not a file, nor under a file)."""
    from pathlib import Path

    path = Path(results).expanduser()
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == path else f"is under {p}, which is a file"
                raise ConfigError(f"results={results} {what}; results needs a folder (new or existing) that is "
                                  "not inside a file")
            return
