"""The run directory: layout, atomic JSON files, per-video records, provenance.

Layout (everything needed to rescore, relog or resume)::

    <results>/runs/<experiment>/<run-id>/
      config.yaml                 resolved config + provenance of the driver that created the run
      plan.json                   cells, their videos and code + data identity (harness/runner/identity.py)
      driver.lock                 the live driver's pid/host/heartbeat (harness/runner/lock.py)
      jobs.json                   every submission (executor, job ids, shards, attempt)
      failures.json               failed shards of the latest attempt (log path, traceback)
      <cell>/predictions/<video>/<frame>.png
      <cell>/records/<video>.json per-video record (with its code and data identity), written last, atomically
      <cell>/events.jsonl         one line per video start (audits "predicted once")
      <cell>/scores/...           the metrics engine's tables
      <cell>/summary.json         the cell's metrics, timing and memory
      <cell>/mlflow.json          where the cell was logged
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.config import Cell, ExperimentConfig, merge_into, to_plain
from harness.errors import ConfigError, DataError
from harness.runner.identity import CellIdentity, IdentityChanged

DONE = "done"
FAILED = "failed"
PACKAGES = ("mosebench", "numpy", "torch", "sam2", "opencv-contrib-python-headless", "pillow", "omegaconf",
            "submitit", "mlflow", "pandas", "scipy")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=False, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if hasattr(o, "value"):
        return o.value
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: corrupt JSON ({exc}); delete it to have it rebuilt") from exc


def append_line(path: str | os.PathLike, obj: Any) -> None:
    """Append one JSON line; a single small O_APPEND write is atomic across processes."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(obj, default=_json_default) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class CellDir:
    root: Path

    @property
    def predictions(self) -> Path:
        return self.root / "predictions"

    @property
    def records(self) -> Path:
        return self.root / "records"

    @property
    def scores(self) -> Path:
        return self.root / "scores"

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def mlflow(self) -> Path:
        return self.root / "mlflow.json"

    def record_path(self, video: str) -> Path:
        return self.records / f"{video}.json"

    def record(self, video: str) -> dict | None:
        try:
            return read_json(self.record_path(video))
        except DataError:
            return None  # a corrupt record counts as missing: the video is redone

    def is_done(self, video: str, *, newer_than: float | None = None) -> bool:
        rec = self.record(video)
        if not rec or rec.get("status") != DONE:
            return False
        return newer_than is None or float(rec.get("finished_at", 0)) >= newer_than

    def starts(self) -> list[dict]:
        try:
            with open(self.events) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs.json"

    @property
    def failures(self) -> Path:
        return self.root / "failures.json"

    @property
    def job_logs(self) -> Path:
        return self.root / "jobs"

    def cell(self, name: str) -> CellDir:
        return CellDir(self.root / name)

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        root = Path(path)
        if not (root / "config.yaml").is_file():
            raise DataError(f"{root} is not a mosebench run directory (no config.yaml); pass the folder "
                            "`mosebench run` printed, e.g. results/runs/demo/<run-id>")
        return cls(root)


def git_commit(cwd: str | os.PathLike | None = None) -> tuple[str, bool]:
    """(commit sha or 'unknown', dirty?) of the source tree mosebench runs from."""
    cwd = cwd or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return sha or "unknown", dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


def provenance() -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    sha, dirty = git_commit()
    return {"git_commit": sha, "git_dirty": dirty, "packages": versions, "host": socket.gethostname(),
            "platform": platform.platform(), "python": platform.python_version(),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def save_run_config(run: RunDir, cfg: ExperimentConfig, *, keep_provenance: bool = False) -> None:
    """Write ``config.yaml``. ``keep_provenance``: a rerun or resume of the same run keeps the
    provenance of the driver that created it (commit, host, cwd); only a new (forced) run writes
    its own."""
    from omegaconf import OmegaConf

    prov = load_provenance(run) if keep_provenance and run.config.is_file() else {}
    if not prov:
        prov = {**provenance(), "cwd": os.getcwd()}
    doc = {"experiment": to_plain(cfg), "provenance": prov}
    atomic_write_text(run.config, OmegaConf.to_yaml(OmegaConf.create(doc)))


def renew_provenance(run: RunDir) -> None:
    """A forced resume: the run's provenance becomes this driver's (the working directory its
    relative paths are anchored to stays); the experiment is kept as written."""
    from omegaconf import OmegaConf

    doc = _config_doc(run)
    cwd = (doc.get("provenance") or {}).get("cwd") or os.getcwd()
    doc["provenance"] = {**provenance(), "cwd": cwd}
    atomic_write_text(run.config, OmegaConf.to_yaml(OmegaConf.create(doc)))


def _config_doc(run: RunDir) -> dict:
    from omegaconf import OmegaConf

    try:
        doc = OmegaConf.to_container(OmegaConf.load(run.config))
    except FileNotFoundError:
        raise
    except Exception as exc:  # YAML syntax errors, a folder, not UTF-8
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{run.config} is corrupt ({first}); delete it and start the run again with the same "
                          "`mosebench run` command (finished videos are kept)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("experiment"), dict):
        raise ConfigError(f"{run.config} holds no 'experiment' mapping (corrupt or not a mosebench run config); "
                          "delete it and start the run again with the same `mosebench run` command")
    return doc


def load_run_config(run: RunDir) -> ExperimentConfig:
    """The run's resolved config; its method plugins are registered as a side effect."""
    doc = _config_doc(run)
    raw = doc["experiment"]
    cwd = (doc.get("provenance") or {}).get("cwd")
    if cwd and Path(cwd) != Path.cwd() and Path(cwd).is_dir():  # (not visible here: keep relative)
        raw = _anchor_paths(raw, Path(cwd))
    cfg = merge_into(ExperimentConfig, raw, where=str(run.config))
    if cfg.plugins:
        from harness import registry

        registry.load_plugins(cfg.plugins)
    return cfg


def _anchor_paths(raw: dict, base: Path) -> dict:
    """Relative paths of a run's config made absolute against the directory it was started in,
    so `mosebench resume/status/log/ui RUN_DIR` work from anywhere (same data, same MLflow store)."""
    def anchor(p: Any) -> Any:
        return str(base / p) if isinstance(p, str) and p and not Path(p).expanduser().is_absolute() else p

    raw = dict(raw)
    for key in ("results",):
        raw[key] = anchor(raw.get(key))
    raw["dataset"] = {name: {**ds, "root": anchor(ds.get("root")), "meta": anchor(ds.get("meta"))}
                      for name, ds in (raw.get("dataset") or {}).items()}
    raw["plugins"] = [anchor(p) if str(p).endswith(".py") else p for p in raw.get("plugins") or []]
    if isinstance(raw.get("cluster"), dict) and raw["cluster"].get("folder"):
        raw["cluster"] = {**raw["cluster"], "folder": anchor(raw["cluster"]["folder"])}
    return raw


def load_provenance(run: RunDir) -> dict:
    return _config_doc(run).get("provenance", {})


def read_plan(run: RunDir) -> dict:
    """``plan.json``; a run without one (its driver stopped before planning) is an error naming the fix."""
    plan = read_json(run.plan)
    if not plan or not plan.get("cells"):
        raise DataError(f"{run.root} has no plan (no {run.plan.name}, or one without cells): its driver stopped "
                        f"before planning the work; `mosebench resume {run.root}` plans and runs it")
    return plan


def run_cells(run: RunDir) -> tuple[Cell, ...]:
    return tuple(Cell(c["method"], c["setting"], c["dataset"]) for c in read_plan(run)["cells"].values())


def cell_identity(run: RunDir, cell: str) -> CellIdentity | None:
    """The code and data identity the plan holds for ``cell`` (None for runs made before mosebench
    recorded them)."""
    doc = (read_json(run.plan, {}) or {}).get("cells", {}).get(cell, {}).get("identity")
    return CellIdentity.from_json(doc) if doc else None


def check_records(run: RunDir, cell: str, records: dict[str, dict]) -> None:
    """Refuse (:class:`IdentityChanged`) a cell whose complete records were made by other code or
    data than its plan names: such numbers are never scored together."""
    ident = cell_identity(run, cell)
    if ident is None:
        return  # a run from before identities were recorded: nothing to compare with
    bad = sorted(v for v, rec in records.items()
                 if (rec.get("identity") or {}).get("code") != ident.code.digest
                 or (rec.get("identity") or {}).get("data") != ident.data.video(v))
    if bad:
        raise IdentityChanged(f"{run.cell(cell).root}: {len(bad)} of {len(records)} record(s) were made by other "
                              f"code or data than the run's plan ({', '.join(bad[:5])}); not scored. Redo them: "
                              f"mosebench resume --force {run.root}")


# Files only the driver writes (it holds the run's lock): their temp files are debris of a killed driver.
DRIVER_FILES = ("config.yaml", "plan.json", "jobs.json", "failures.json", "force.json")


def clean_driver_temp(run: RunDir) -> list[str]:
    """Remove temp files a killed driver left next to its own files (call with the run's lock held)."""
    removed = []
    for name in DRIVER_FILES:
        for tmp in run.root.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
    return removed


def clean_job_temp(folder: Path) -> list[str]:
    """Remove submitit's ``*.save_tmp`` files (a result pickle being written when its job died, e.g. on a
    full disk) from a run's job folder. Call only once no job of the run is alive (with the lock held)."""
    removed = []
    for tmp in Path(folder).glob("*.save_tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp.name)
    return removed
