"""Read what the MOSEv2 evaluation server returns: the official MOSE-api ``score.py`` output.

``scores.txt`` (``J&F_new: 29.94`` lines then ``Copy-Paste: 29.9,...``) and, where given, ``metrics.json``
(per ``<video>_<object>`` the same fields, plus ``total_time``); as a folder, the files themselves, or a zip
holding them. Official field names map to mosebench's metric keys in :mod:`harness.metrics.names`.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from harness.metrics.names import OFFICIAL_TO_KEY

# official scores.txt / metrics.json field -> mosebench metric key, in the official order (the one table:
# harness.metrics.names, printed in docs/metrics.md)
OFFICIAL_KEYS: dict[str, str] = OFFICIAL_TO_KEY


@dataclass(frozen=True)
class ServerResult:
    """The server's dataset scores (mosebench keys, x100), per-object rows (official keys, may be empty),
    the raw files' text, and the sha256 and path of what was read."""

    metrics: dict[str, float]
    per_object: dict[str, dict[str, float | None]]
    scores_txt: str
    metrics_json: str | None
    sha256: str
    path: str


def parse_scores_txt(text: str, where: str) -> dict[str, float]:
    """``{mosebench key: value}`` from a ``scores.txt``; its Copy-Paste line must agree with the values."""
    values: dict[str, float] = {}
    copy_paste = None
    for line in text.splitlines():
        if ":" not in line:
            continue
        name, _, raw = line.partition(":")
        name, raw = name.strip(), raw.strip()
        if name == "Copy-Paste":
            copy_paste = raw
        elif name in OFFICIAL_KEYS:
            try:
                values[OFFICIAL_KEYS[name]] = float(raw)
            except ValueError:
                raise DataError(f"{where}: '{name}: {raw}' is not a number; is this the server's scores.txt?") from None
    missing = [k for k, v in OFFICIAL_KEYS.items() if v not in values]
    if missing:
        raise DataError(f"{where}: no {', '.join(missing)} line(s); expected the MOSEv2 server's scores.txt "
                        f"({', '.join(OFFICIAL_KEYS)}, Copy-Paste)")
    if copy_paste is not None:
        parts = [p.strip() for p in copy_paste.split(",")]
        expect = [values[k] for k in OFFICIAL_KEYS.values()]
        if len(parts) != len(expect) or any(not math.isclose(float(p), round(e, 1), abs_tol=0.051)
                                            for p, e in zip(parts, expect)):
            raise DataError(f"{where}: the Copy-Paste line ({copy_paste}) disagrees with the values above it; "
                            "the file was edited or truncated: download the result again")
    return values


def _from_zip(path: Path) -> tuple[str, str | None]:
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/") and "__MACOSX" not in n]
            scores = [n for n in names if Path(n).name == "scores.txt"]
            if len(scores) != 1:
                raise DataError(f"{path}: expected one scores.txt in the zip, found {len(scores)} "
                                f"({', '.join(names[:5]) or 'empty zip'})")
            folder = str(Path(scores[0]).parent)
            mj = [n for n in names if Path(n).name == "metrics.json" and str(Path(n).parent) == folder]
            return (z.read(scores[0]).decode(), z.read(mj[0]).decode() if mj else None)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path}: not a readable zip ({exc}); pass the server's result zip or its scores.txt") from exc


def read_result(path: str | Path) -> ServerResult:
    """A server result from a zip, a folder holding ``scores.txt`` (+ ``metrics.json``), or a ``scores.txt``."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder; pass the evaluation server's result (zip or scores.txt)")
    if p.is_dir():
        if not (p / "scores.txt").is_file():
            raise DataError(f"{p}: no scores.txt in this folder; pass the server's result zip or its scores.txt")
        p = p / "scores.txt"
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    if zipfile.is_zipfile(p):
        scores, mj = _from_zip(p)
    else:
        scores = p.read_text(errors="replace")
        sib = p.parent / "metrics.json"
        mj = sib.read_text() if sib.is_file() else None
    metrics = parse_scores_txt(scores, str(p))
    per_object: dict[str, dict] = {}
    if mj is not None:
        try:
            data = json.loads(mj)
        except json.JSONDecodeError as exc:
            raise DataError(f"{p}: metrics.json is not JSON ({exc})") from exc
        per_object = {k: v for k, v in data.items() if isinstance(v, dict)}
    return ServerResult(metrics, per_object, scores, mj, digest, str(p))


def _mean(vals: list[float]) -> float | None:
    return sum(vals) / len(vals) if vals else None


def long_video_scores(per_object: dict[str, dict], video_frames: dict[str, int], *,
                      min_frames: int | None = None) -> dict[str, float | int | None]:
    """TABLE 11 (videos with more than ``min_frames`` frames, default the paper's 300) from the server's
    per-object scores, in :func:`harness.metrics.attributes.long_video_table`'s form. ``video_frames``: each
    video's frame count (the cell's records). Same arithmetic as the local table: J&F̂ = (mean J + mean F̂)/2,
    J&F̂_d / J&F̂_r = mean over the objects that have them; only the server's 2-decimal rounding differs."""
    from harness.metrics.attributes import LONG_FRAMES

    limit = LONG_FRAMES if min_frames is None else min_frames
    long_videos = {v for v, n in video_frames.items() if n > limit}
    rows = [r for k, r in per_object.items() if k.rsplit("_", 1)[0] in long_videos]

    def col(name: str) -> list[float]:
        return [float(r[name]) for r in rows if r.get(name) is not None]

    j, fh = _mean(col("J")), _mean(col("F_new"))
    d, r = _mean(col("disappear_J&F_new")), _mean(col("reappear_J&F_new"))
    return {"min_frames": limit, "n_videos": len(long_videos), "n_objects": len(rows),
            "JF_hat": None if j is None or fh is None else (j + fh) / 2, "JF_hat_d": d, "JF_hat_r": r,
            "delta": None if d is None or r is None else d - r}
