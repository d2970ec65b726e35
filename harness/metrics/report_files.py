"""Score files: official-compatible ``metrics.json`` / ``scores.txt`` plus our tables.

Every file is written to a temp file and moved into place; ``summary.json`` is written last, so its
presence means the set is complete.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_bytes
from harness.metrics.aggregate import ScoreSummary, VideoInfo
from harness.metrics.names import MOSE_METRICS

PARQUET_META_KEY = b"mosebench"

# official metrics.json field -> (per-object columns averaged; fractions); names: harness.metrics.names
MOSE_FIELDS: dict[str, tuple[str, ...]] = {m.official: m.columns for m in MOSE_METRICS}
DAVIS_FIELDS: dict[str, str] = {
    "J-Mean": "J", "J-Recall": "J_recall", "J-Decay": "J_decay", "F-Mean": "F", "F-Recall": "F_recall",
    "F-Decay": "F_decay",
}


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _official_value(row: Mapping[str, Any], cols: tuple[str, ...]) -> float | None:
    vals = [_num(row[c]) for c in cols]
    if any(v is None for v in vals):
        return None
    # the official arithmetic: round((a + b) / 2 * 100, 2) / round(a * 100, 2)
    v = vals[0] if len(vals) == 1 else (vals[0] + vals[1]) / 2
    return _round2(v * 100)


def _round2(v: float) -> float:
    """``round(np.float64(v), 2)``: the official values are numpy floats, whose ``round`` scales,
    rounds half to even and unscales (it can differ from Python's exact decimal ``round``)."""
    import numpy as np

    return float(round(np.float64(v), 2))


def metrics_json(objects: Any, protocol: str) -> dict[str, Any]:
    """Per-object dict keyed ``<video>_<object>`` (official field names, x100, 2 decimals)."""
    out: dict[str, Any] = {}
    for row in objects.to_dict("records"):
        key = f"{row['video']}_{row['object']}"
        if protocol == "mose":
            out[key] = {name: _official_value(row, cols) for name, cols in MOSE_FIELDS.items()}
        else:
            out[key] = {name: (None if _num(row[c]) is None else _round2(row[c] * 100))
                        for name, c in DAVIS_FIELDS.items()}
    return out


def _r2(v: float | None) -> float:
    return float("nan") if v is None else _round2(v)


def scores_txt(summary: ScoreSummary) -> str:
    """The official ``scores.txt`` lines (MOSE), or the DAVIS global measures (x100)."""
    if summary.protocol == "mose":
        vals = [(m.official, getattr(summary, m.key)) for m in MOSE_METRICS]
        lines = [f"{name}: {_r2(v)}" for name, v in vals]
        lines.append("Copy-Paste: " + ",".join(f"{_r2(v):.1f}" for _, v in vals))
    else:
        vals = [("J&F-Mean", summary.JF), ("J-Mean", summary.J), ("J-Recall", summary.J_recall),
                ("J-Decay", summary.J_decay), ("F-Mean", summary.F), ("F-Recall", summary.F_recall),
                ("F-Decay", summary.F_decay)]
        lines = [f"{name}: {_r2(v)}" for name, v in vals]
    return "\n".join(lines) + "\n"


def davis_csvs(objects: Any, summary: ScoreSummary) -> tuple[str, str]:
    """davis2017-evaluation's ``global_results-val.csv`` and ``per-sequence_results-val.csv`` text."""
    import pandas as pd

    g = pd.DataFrame([[summary.JF / 100, summary.J / 100, summary.J_recall / 100, summary.J_decay / 100,
                       summary.F / 100, summary.F_recall / 100, summary.F_decay / 100]],
                     columns=["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"])
    seq = pd.DataFrame({"Sequence": [f"{v}_{o}" for v, o in zip(objects["video"], objects["object"])],
                        "J-Mean": objects["J"], "F-Mean": objects["F"]})
    return g.to_csv(index=False, float_format="%.3f"), seq.to_csv(index=False, float_format="%.3f")


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=4, allow_nan=False) + "\n").encode()


def per_frame_bytes(table: Any, infos: Mapping[str, VideoInfo], protocol: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    extra = {"protocol": protocol,
             "videos": {v: {"objects": list(i.objects), "height": i.height, "width": i.width, "length": i.length,
                            "frames": i.frames}
                        for v, i in infos.items()}}
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                           PARQUET_META_KEY: json.dumps(extra).encode()})
    buf = io.BytesIO()
    pq.write_table(arrow, buf, compression="zstd")
    return buf.getvalue()


def load_per_frame(path: str | Path) -> tuple[Any, dict[str, VideoInfo], str]:
    """Read a ``per_frame.parquet`` back: ``(table, video infos, protocol)``."""
    import pyarrow.parquet as pq

    from harness.errors import DataError

    path = Path(path)
    try:
        arrow = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"per-frame table {path} cannot be read ({exc}); rerun mosebench score") from None
    meta = (arrow.schema.metadata or {}).get(PARQUET_META_KEY)
    if meta is None:
        raise DataError(f"{path} was not written by mosebench score (no '{PARQUET_META_KEY.decode()}' metadata)")
    extra = json.loads(meta)
    # "frames" (video frames, for LD) is absent from tables written before it was recorded
    infos = {v: VideoInfo(tuple(i["objects"]), i["height"], i["width"], i["length"], i.get("frames"))
             for v, i in extra["videos"].items()}
    return arrow.to_pandas(), infos, extra["protocol"]


def write_analysis(out: Path, table: Any, objects: Any, infos: Mapping[str, VideoInfo],
                   attributes_path: str | Path | None = None) -> None:
    """``vot.json`` (tracking metrics of the masks' boxes), and for MOSE ``attributes.csv`` /
    ``attributes.md`` (TABLE 9 layout; file attributes + GT-derived ones) and ``long_videos.json``."""
    from harness.metrics.attributes import (
        DERIVED_CODES,
        TABLE9_CODES,
        attribute_table,
        derive_attributes,
        load_attributes,
        long_video_table,
        table9_markdown,
    )
    from harness.metrics.vot import vot_from_table

    per_seq, dataset = vot_from_table(table)
    vot = {"dataset": None if dataset is None else dataset.as_dict(),
           "sequences": {f"{v}_{o}": {k: r.as_dict()[k] for k in ("auc", "precision", "norm_precision")}
                         for (v, o), r in per_seq.items()}}
    atomic_write_bytes(out / "vot.json", _json_bytes(_clean(vot)))
    if "JF_hat" not in objects.columns:
        return
    given = load_attributes(attributes_path, infos) if attributes_path else {}
    derived = derive_attributes(table, infos)
    file_codes = sorted({c for codes in given.values() for c in codes})
    codes = [c for c in TABLE9_CODES if c in file_codes] + [c for c in file_codes if c not in TABLE9_CODES]
    # derived codes fill in what the file does not provide
    merged = {k: given.get(k, frozenset()) | frozenset(c for c in derived.get(k, ()) if c not in file_codes)
              for k in set(given) | set(derived)}
    derived_used = frozenset(c for c in DERIVED_CODES if c not in file_codes)
    codes += [c for c in DERIVED_CODES if c in derived_used]
    att = attribute_table(objects, merged, codes=codes, derived=derived_used)
    atomic_write_bytes(out / "attributes.csv", att.to_csv(index=False).encode())
    atomic_write_bytes(out / "attributes.md", table9_markdown(att).encode())
    atomic_write_bytes(out / "long_videos.json", _json_bytes(_clean(long_video_table(objects, infos))))


def write_score_files(out: Path, table: Any, objects: Any, summary: ScoreSummary,
                  infos: Mapping[str, VideoInfo], attributes_path: str | Path | None = None) -> None:
    """Write all score files under ``out`` (atomic each; ``summary.json`` last)."""
    out.mkdir(parents=True, exist_ok=True)
    # rescoring into an earlier folder: the completeness marker goes first (back last), and files of the
    # other protocol go, so a killed or cross-protocol rerun never passes for a complete, consistent set
    stale = ("attributes.csv", "attributes.md", "long_videos.json") if summary.protocol == "davis" else (
        "global_results.csv", "per-sequence_results.csv")
    for name in ("summary.json", *stale):
        (out / name).unlink(missing_ok=True)
    atomic_write_bytes(out / "per_frame.parquet", per_frame_bytes(table, infos, summary.protocol))
    atomic_write_bytes(out / "per_object.csv", objects.to_csv(index=False).encode())
    atomic_write_bytes(out / "metrics.json", _json_bytes(metrics_json(objects, summary.protocol)))
    atomic_write_bytes(out / "scores.txt", scores_txt(summary).encode())
    if summary.protocol == "davis":
        g, seq = davis_csvs(objects, summary)
        atomic_write_bytes(out / "global_results.csv", g.encode())
        atomic_write_bytes(out / "per-sequence_results.csv", seq.encode())
    write_analysis(out, table, objects, infos, attributes_path)
    atomic_write_bytes(out / "summary.json", _json_bytes(_clean(summary.as_dict())))


def _clean(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _clean(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_clean(v) for v in d]
    if isinstance(d, float) and math.isnan(d):
        return None
    return d
