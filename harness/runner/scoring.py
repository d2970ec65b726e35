"""Score one cell according to its setting's declared ``scoring`` kind (:data:`SCORING_KINDS`).

``vos`` (mask/box/point settings): the metrics engine over the predicted PNGs. ``vot``: the
:class:`~harness.metrics.vot.VOTVideo` details in the records (LaSOT-style AUC, P, P_norm, with
the setting's convention). ``unsupervised``: proposals matched to GT objects per video, then the
usual object-level aggregation. ``interactive``: the J&F-vs-time curve from the
:class:`~harness.metrics.interactive.InteractiveVideo` details, with the setting's protocol
constants. Every kind writes its tables under ``<cell>/scores`` and returns ``metric name ->
value`` (x100 like the paper). An unknown kind is an error, never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

SMALL_CELL_FRAMES = 1500


def _numbers(d: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("n_objects", "n_missing", "n_frames", "n_sequences", "n_entries")}


def _details(records: Mapping[str, dict], cls: Any) -> dict[str, Any]:
    """``video -> cls`` parsed from each record's ``details`` (a clear error when absent or of another kind)."""
    from harness.errors import DataError

    out = {}
    for v in sorted(records):
        d = records[v].get("details")
        where = f"record of video '{v}'"
        if not isinstance(d, Mapping) or d.get("kind") != cls.kind:
            got = d.get("kind") if isinstance(d, Mapping) else d
            raise DataError(f"{where} has no '{cls.kind}' details (key 'details', got {got!r}); it was made by "
                            "another setting or an older mosebench: rerun the cell with --force")
        out[v] = cls.from_json(d, where)
    return out


def _vos(setting: Any, dataset: Any, dcfg: Any, records: Mapping[str, dict], pred: Path, out: Path,
         label: str) -> dict[str, Any]:
    from harness.metrics.score import score

    videos = sorted(records)
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


def _unsupervised(setting: Any, dataset: Any, dcfg: Any, records: Mapping[str, dict], pred: Path, out: Path,
                  label: str) -> dict[str, Any]:
    import pandas as pd

    from harness.atomic import atomic_write_text
    from harness.metrics.aggregate import dataset_scores
    from harness.metrics.unsupervised import score_unsupervised

    rows: list[dict] = []
    for v in sorted(records):
        _, r = score_unsupervised(dataset.video(v), pred, protocol=dcfg.protocol)
        rows += r
    objects = pd.DataFrame(rows)
    atomic_write_text(out / "per_object.csv", objects.to_csv(index=False))
    return {"metrics": _numbers({k: v for k, v in dataset_scores(objects, dcfg.protocol).items() if v is not None}),
            "n_objects": len(objects)}


def _vot(setting: Any, dataset: Any, dcfg: Any, records: Mapping[str, dict], pred: Path, out: Path,
         label: str) -> dict[str, Any]:
    from harness.metrics.vot import VOTVideo, score_vot

    s = score_vot(_details(records, VOTVideo), convention=setting.cfg.convention)
    write_vot_outputs(out, s, label)
    return {"metrics": _numbers(s.summary()), "n_objects": s.n_sequences}


def write_vot_outputs(out: Path, s: Any, label: str) -> None:
    """``vot.json`` (summary, dataset curves, per-sequence values) and ``vot_curves.png`` (success,
    precision and normalised-precision plots, the curve named ``label``), each written atomically."""
    import json
    import os
    import tempfile

    from harness.atomic import atomic_write_bytes
    from harness.metrics.vot import plot_curves

    payload = {"summary": s.summary(), "dataset": None if s.dataset is None else s.dataset.as_dict(),
               "sequences": list(s.per_sequence)}
    atomic_write_bytes(out / "vot.json", json.dumps(payload, indent=1).encode())
    if s.dataset is None:
        return
    fd, tmp = tempfile.mkstemp(prefix=".vot_curves.", suffix=".png", dir=out)
    os.close(fd)
    try:
        plot_curves({label: s.dataset}, tmp)
        os.replace(tmp, out / "vot_curves.png")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _interactive(setting: Any, dataset: Any, dcfg: Any, records: Mapping[str, dict], pred: Path, out: Path,
                 label: str) -> dict[str, Any]:
    from harness.metrics.interactive import InteractiveVideo, summarize_interactive
    from harness.runner.rundir import write_json

    videos = _details(records, InteractiveVideo)
    s = summarize_interactive([videos[v] for v in sorted(videos)], setting.cfg.summary_options)
    write_json(out / "interactive.json", s.as_dict())
    keep = set(setting.metrics)
    return {"metrics": {k: v for k, v in _numbers(s.as_dict()).items() if k in keep}, "n_objects": s.n_entries}


SCORING_KINDS: dict[str, Callable[..., dict[str, Any]]] = {
    "vos": _vos, "unsupervised": _unsupervised, "interactive": _interactive, "vot": _vot,
}
"""``Setting.scoring`` value -> how a cell of that setting is scored."""


def score_cell(setting: Any, dataset: Any, dcfg: Any, records: Mapping[str, dict], pred: Path,
               out: Path, *, label: str = "prediction") -> dict[str, Any]:
    """``{"metrics": {...}, "n_objects": int}`` for one cell; writes its tables into ``out``.

    ``label`` names the method in plots (the VOT success / precision curves).

    Raises:
        ConfigError: the setting declares a scoring kind not in :data:`SCORING_KINDS`.
        DataError: a record lacks the details its setting's scoring kind reads.
    """
    kind = setting.scoring
    scorer = SCORING_KINDS.get(kind)
    if scorer is None:
        from harness.errors import ConfigError

        raise ConfigError(f"setting '{setting.name}' declares scoring kind {kind!r}, which mosebench does not "
                          f"know; use one of {', '.join(SCORING_KINDS)} (Setting.scoring)")
    out.mkdir(parents=True, exist_ok=True)
    return scorer(setting, dataset, dcfg, records, pred, out, label)
