"""Read scored cells from run directories into typed records for `mosebench report`.

A cell counts when its ``summary.json`` exists (scored locally, or ingested from the evaluation server).
Local scores add 95% bootstrap intervals (``scores/summary.json`` ``ci``), the attribute table
(``scores/attributes.csv``), the long-video table (``scores/long_videos.json``) and VOT curves
(``scores/vot.json``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataError
from harness.runner.rundir import RunDir, read_json


@dataclass(frozen=True)
class AttributeRow:
    """One attribute's scores (x100; None where no object/frame qualifies)."""

    attribute: str
    derived: bool
    n_objects: int
    JF_hat: float | None
    JF_hat_d: float | None
    JF_hat_r: float | None


@dataclass(frozen=True)
class VotCurves:
    """Dataset success curve (overlap thresholds 0..1, ``len`` points) and precision curve (0..50 px)."""

    success: tuple[float, ...]
    precision: tuple[float, ...]


@dataclass(frozen=True)
class CellResult:
    """What a report needs from one scored cell."""

    run: str
    cell: str
    method: str
    setting: str
    dataset: str
    videos: int
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    source: str = "local"  # "local" or "server" (ingested evaluation-server result)
    attributes: tuple[AttributeRow, ...] = ()
    long_videos: dict[str, float | None] = field(default_factory=dict)
    vot: VotCurves | None = None


def _float(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def _attributes(path: Path) -> tuple[AttributeRow, ...]:
    if not path.is_file():
        return ()
    with open(path, newline="") as f:
        return tuple(AttributeRow(r["attribute"], r.get("derived") == "True", int(r.get("n_objects") or 0),
                                  _float(r.get("JF_hat")), _float(r.get("JF_hat_d")), _float(r.get("JF_hat_r")))
                     for r in csv.DictReader(f))


def _vot(path: Path) -> VotCurves | None:
    d = (read_json(path) or {}).get("dataset") or {}
    if not d.get("success_curve"):
        return None
    return VotCurves(tuple(d["success_curve"]), tuple(d.get("precision_curve") or ()))


def long_table(long: dict) -> dict[str, float | None]:
    """TABLE 11's values from a ``long_videos.json`` (empty when no video is long)."""
    return {k: long.get(k) for k in ("JF_hat", "JF_hat_d", "JF_hat_r", "delta")} if long.get("n_objects") else {}


PREDICT_ONLY = "predict-only"


def _predicted(run_root: Path, cell: str, planned: dict) -> CellResult | None:
    """A finished cell without scores (`mosebench predict`): its speed and memory from the records."""
    from harness.runner.cell_summary import cell_progress, speed_metrics

    run = RunDir(run_root)
    prog = cell_progress(run, cell)
    if prog["failed"] or prog["missing"] or not prog["done"]:
        return None
    records = [run.cell(cell).record(v) for v in prog["done"]]
    return CellResult(run=str(run_root), cell=cell, method=str(planned["method"]), setting=str(planned["setting"]),
                      dataset=str(planned["dataset"]), videos=len(records), metrics=speed_metrics(records),
                      source=PREDICT_ONLY)


def read_cell(run_root: Path, cell: str, planned: dict | None = None) -> CellResult | None:
    """The cell's result; a finished but unscored cell gives its speed only (source ``predict-only``);
    None when the cell is unfinished."""
    cdir = RunDir(run_root).cell(cell)
    summary = read_json(cdir.summary)
    if not summary:
        return _predicted(run_root, cell, planned) if planned else None
    scores = read_json(cdir.scores / "summary.json") or {}
    ci = {k: (float(v[0]), float(v[1])) for k, v in (scores.get("ci") or {}).items()
          if isinstance(v, (list, tuple)) and len(v) == 2 and None not in v}
    long = read_json(cdir.scores / "long_videos.json") or read_json(cdir.root / "server_scores" / "long_videos.json") \
        or {}
    return CellResult(
        run=str(run_root), cell=cell, method=str(summary["method"]), setting=str(summary["setting"]),
        dataset=str(summary["dataset"]), videos=int(summary.get("videos") or 0),
        metrics={k: float(v) for k, v in (summary.get("metrics") or {}).items() if isinstance(v, (int, float))},
        ci=ci, source=str(summary.get("source", "local")), attributes=_attributes(cdir.scores / "attributes.csv"),
        long_videos=long_table(long),
        vot=_vot(cdir.scores / "vot.json") if summary["setting"] == "vot" else None)


def collect(runs: Iterable[str | os.PathLike]) -> tuple[list[CellResult], list[str]]:
    """(every finished cell of the runs in order, names of the planned cells that have no scores)."""
    cells: list[CellResult] = []
    missing: list[str] = []
    for r in runs:
        run = RunDir.open(r)
        plan = read_json(run.plan)
        if not plan or not plan.get("cells"):
            raise DataError(f"{run.plan}: no cells planned; is {run.root} a finished `mosebench run`?")
        for name, planned in plan["cells"].items():
            res = read_cell(run.root, name, planned)
            if res is None or res.source == PREDICT_ONLY:
                missing.append(f"{run.root.name}/{name}")
            if res is not None:
                cells.append(res)
    return cells, missing
