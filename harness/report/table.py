"""Plain-text results tables from cell summaries (one row per (method, setting, dataset))."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

MAIN = ("JF_hat", "J", "F_hat", "JF_hat_d", "JF_hat_r", "F", "JF")
SPEED = ("fps", "fps_after_warmup", "gpu_reserved_gib", "gpu_allocated_gib", "host_rss_gib")
MEMORY = ("gpu_reserved_gib", "gpu_allocated_gib", "host_rss_gib")
NOT_PRINTED = ("harness_fps", "fps_video_p10", "fps_video_median", "fps_video_p90")  # in summary.json / MLflow


def _fmt(v: object, key: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if key in MEMORY:
            return f"{v:.2f}"
        if key in SPEED:
            return f"{v:.1f}" if v < 1000 else f"{v:.0f}"
        return f"{v:.1f}"
    return str(v)


def metric_columns(summaries: Sequence[Mapping]) -> list[str]:
    """MAIN metrics, then any setting-specific metrics present, then speed/memory."""
    seen: dict[str, None] = {}
    for s in summaries:
        for k in s.get("metrics", {}):
            if k not in MAIN and k not in SPEED and k not in NOT_PRINTED:
                seen.setdefault(k, None)
    present = {k for s in summaries for k in s.get("metrics", {})}
    return [k for k in MAIN if k in present] + list(seen) + [k for k in SPEED if k in present]


def results_table(summaries: Sequence[Mapping], incomplete: Iterable[str] = ()) -> str:
    """Fixed-width table; ``incomplete`` cells are listed below it."""
    cols = metric_columns(summaries)
    header = ["method", "setting", "dataset", "videos", *cols]
    rows = [[str(s["method"]), str(s["setting"]), str(s["dataset"]), str(s.get("videos", "")),
             *(_fmt(s.get("metrics", {}).get(c), c) for c in cols)] for s in summaries]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    rest = list(incomplete)
    if rest:
        lines.append(f"incomplete (not scored): {', '.join(rest)}")
    return "\n".join(lines)
