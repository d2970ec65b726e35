"""Score one cell according to its setting's declared ``scoring`` kind.

``vos`` (mask/box/point settings): the metrics engine over the predicted PNGs. ``vot``: boxes kept
in the records' ``extra`` (LaSOT-style AUC, P, P_norm). ``unsupervised``: proposals matched to GT
objects per video, then the usual object-level aggregation. ``interactive``: the J&F-vs-time curve
from the records' ``extra``. Every kind writes its tables under ``<cell>/scores`` and returns
``metric name -> value`` (x100 like the paper).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

SMALL_CELL_FRAMES = 1500


def _numbers(d: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("n_objects", "n_missing", "n_frames", "n_sequences", "n_entries")}


def _vos(dataset: Any, dcfg: Any, videos: list[str], pred: Path, out: Path) -> dict[str, Any]:
    from harness.metrics.score import score

    gt_root = Path(dataset.video(videos[0]).ann_dir).parent
    frames = sum(len(dataset.video(v).annotated) for v in videos)
    # a worker pool costs seconds to start: worth it only for real datasets
    jobs = 1 if frames <= SMALL_CELL_FRAMES else 0
    # the dataset's attributes.json (as `mosebench score` reads it next to meta.json); GT-derived codes otherwise
    attributes = Path(dataset.root) / "attributes.json"
    summary = score(dataset.meta_path, gt_root, pred, out, protocol=dcfg.protocol, videos=videos, jobs=jobs,
                    attributes=attributes if attributes.is_file() else None)
    from harness.data.checks import MIN_SCORED_GT, short_video_note

    note = short_video_note([v for v in videos if len(dataset.video(v).annotated) < MIN_SCORED_GT])
    if note:  # official behaviour, kept; but a silent 0 looks like a method failure
        print(f"{dataset.root}: {note}", flush=True)
    d = summary.as_dict()
    return {"metrics": _numbers(d), "n_objects": d.get("n_objects")}


def _unsupervised(dataset: Any, dcfg: Any, videos: list[str], pred: Path, out: Path) -> dict[str, Any]:
    import pandas as pd

    from harness.atomic import atomic_write_text
    from harness.metrics.aggregate import dataset_scores
    from harness.metrics.unsupervised import score_unsupervised

    rows: list[dict] = []
    for v in videos:
        _, r = score_unsupervised(dataset.video(v), pred, protocol=dcfg.protocol)
        rows += r
    objects = pd.DataFrame(rows)
    atomic_write_text(out / "per_object.csv", objects.to_csv(index=False))
    return {"metrics": _numbers({k: v for k, v in dataset_scores(objects, dcfg.protocol).items() if v is not None}),
            "n_objects": len(objects)}


def _vot(records: Mapping[str, dict], out: Path, label: str) -> dict[str, Any]:
    from harness.settings.vot import score_vot

    s = score_vot({v: r.get("extra", {}) for v, r in records.items()}, out_dir=out, label=label)
    return {"metrics": _numbers(s.as_dict()), "n_objects": s.n_sequences}


def _interactive(records: Mapping[str, dict], setting: Any, out: Path) -> dict[str, Any]:
    from dataclasses import asdict, fields, is_dataclass

    from harness.metrics.interactive import summarize
    from harness.runner.rundir import write_json

    kwargs = {}
    cfg = getattr(setting, "cfg", None)
    if is_dataclass(cfg):  # pass the setting's protocol constants the summary takes (same names)
        import inspect

        accepted = set(inspect.signature(summarize).parameters)
        kwargs = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name in accepted}
    s = summarize([records[v].get("extra", {}) for v in sorted(records)], **kwargs)
    write_json(out / "interactive.json", asdict(s))
    keep = set(getattr(setting, "metrics", ())) or {"AUC", "JF_at_60s", "JF"}
    return {"metrics": {k: v for k, v in _numbers(asdict(s)).items() if k in keep}, "n_objects": s.n_entries}


def score_cell(setting: Any, dataset: Any, dcfg: Any, records: Mapping[str, dict], pred: Path,
               out: Path, *, label: str = "prediction") -> dict[str, Any]:
    """``{"metrics": {...}, "n_objects": int}`` for one cell; writes its tables into ``out``.

    ``label`` names the method in plots (the VOT success / precision curves)."""
    out.mkdir(parents=True, exist_ok=True)
    kind = getattr(setting, "scoring", "vos")
    videos = sorted(records)
    if kind == "vot":
        return _vot(records, out, label)
    if kind == "unsupervised":
        return _unsupervised(dataset, dcfg, videos, pred, out)
    if kind == "interactive":
        return _interactive(records, setting, out)
    return _vos(dataset, dcfg, videos, pred, out)
