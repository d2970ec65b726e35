"""The paper's table layouts filled from scored cells, with the paper's numbers and deltas.

A :class:`Layout` says which settings feed a table and its columns in the paper's order; :func:`build`
turns cells into :class:`ReportRow` (one per method and dataset; ours, the paper's row, delta, 95% CI and a
"better than the paper" mark only where the CI's lower end is above the paper's number). TABLE 9
(attributes) has no paper numbers (not transcribed) and is built by :func:`attribute_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.metrics.names import MOSE_METRICS
from harness.report import paper
from harness.report.collect import CellResult


@dataclass(frozen=True)
class Column:
    """``key``: our metric; ``paper``: the paper CSV column (None: not in the paper); ``setting``: take the value
    from the cell of that setting (TABLE 6's 1/3/5 clicks); ``source``: ``metrics`` or ``long_videos``."""

    key: str
    title: str
    paper: str | None
    setting: str | None = None
    source: str = "metrics"
    kind: str = "score"  # score (x100, higher is better, may have a CI) | fps | memory


_VOS = tuple((m.key, m.symbol) for m in MOSE_METRICS)  # one name per number: harness.metrics.names


@dataclass(frozen=True)
class Layout:
    number: int
    title: str
    settings: tuple[str, ...]
    columns: tuple[Column, ...]


def _vos_cols(keys: Sequence[str]) -> tuple[Column, ...]:
    titles = dict(_VOS)
    return tuple(Column(k, titles[k], f"mosev2_{k}") for k in keys)


LAYOUTS: dict[int, Layout] = {
    4: Layout(4, "TABLE 4: mask-initialization semi-supervised VOS", ("mask",),
              (*_vos_cols([k for k, _ in _VOS]), Column("fps", "FPS", "fps_a6000", kind="fps"),
               Column("gpu_reserved_gib", "Mem (GiB)", "gpu_mem_gib", kind="memory"))),
    5: Layout(5, "TABLE 5: box-initialization semi-supervised VOS", ("box",),
              _vos_cols(["JF_hat", "JF_hat_d", "JF_hat_r", "JF"])),
    6: Layout(6, "TABLE 6: point-initialization semi-supervised VOS (J&F̂)", ("point1", "point3", "point5"),
              tuple(Column("JF_hat", f"{n}-clk", f"mosev2_JF_hat_{n}clk", setting=f"point{n}") for n in (1, 3, 5))),
    7: Layout(7, "TABLE 7: unsupervised VOS", ("unsupervised",), _vos_cols(["JF_hat", "JF_hat_d", "JF_hat_r", "JF"])),
    8: Layout(8, "TABLE 8: interactive VOS", ("interactive",),
              (Column("AUC", "AUC", "mosev2_AUC"), Column("JF", "J&F", "mosev2_JF"),
               Column("JF_at_60s", "J&F@60s", "mosev2_JF_at_60s"))),
    10: Layout(10, "TABLE 10: video object tracking (one-pass)", ("vot",),
               (Column("P", "P", "mosev2_P"), Column("P_norm", "P_norm", "mosev2_P_norm"),
                Column("AUC", "AUC", "mosev2_AUC"))),
    11: Layout(11, "TABLE 11: long videos (>300 frames)", ("mask",),
               tuple(Column(k, t, f"mosev2_LD_{k}", source="long_videos") for k, t in
                     (("JF_hat", "J&F̂"), ("JF_hat_d", "J&F̂_d"), ("JF_hat_r", "J&F̂_r"), ("delta", "Δ")))),
}


@dataclass(frozen=True)
class Value:
    """One table cell: ours (None = not measured, e.g. GPU memory on CPU), its 95% CI, the paper's number,
    ours - paper, and whether the CI excludes the paper's number from above."""

    ours: float | None
    ci: tuple[float, float] | None
    paper: float | None
    delta: float | None
    better: bool


@dataclass(frozen=True)
class ReportRow:
    label: str
    method: str
    dataset: str
    paper_label: str | None
    source: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class ReportTable:
    number: int
    title: str
    columns: tuple[Column, ...]
    rows: tuple[ReportRow, ...]
    note: str


def _value(col: Column, cells: dict[str, CellResult], paper_row: dict | None) -> Value:
    cell = cells.get(col.setting) if col.setting else next(iter(cells.values()), None)
    ours, ci = None, None
    if cell is not None:
        ours = cell.long_videos.get(col.key) if col.source == "long_videos" else cell.metrics.get(col.key)
        ci = cell.ci.get(col.key) if col.source == "metrics" and col.kind == "score" else None
    pv = paper_row.get(col.paper) if paper_row and col.paper else None
    delta = ours - pv if ours is not None and pv is not None else None
    better = bool(ci and pv is not None and ci[0] > pv)
    return Value(ours, ci, pv, delta, better)


def applicable(cells: Sequence[CellResult]) -> list[int]:
    """Tables the cells can fill (for ``--table auto``), TABLE 9 included where attribute tables exist."""
    settings = {c.setting for c in cells}
    out = [n for n, lay in LAYOUTS.items() if n != 11 and settings & set(lay.settings)]
    if any(c.attributes for c in cells if c.setting == "mask"):
        out.append(9)
    if any(c.long_videos for c in cells if c.setting == "mask"):
        out.append(11)
    return sorted(out)


def _groups(cells: Sequence[CellResult], settings: Sequence[str]) -> list[tuple[str, str, str, dict]]:
    """(label, method, dataset, {setting: cell}) per method x dataset x run, in first-seen order."""
    keys: dict[tuple[str, str, str], dict[str, CellResult]] = {}
    for c in cells:
        if c.setting in settings:
            keys.setdefault((c.method, c.dataset, c.run), {})[c.setting] = c
    datasets = {k[1] for k in keys}
    runs_per = {}
    for m, d, r in keys:
        runs_per.setdefault((m, d), []).append(r)
    out = []
    for (m, d, r), group in keys.items():
        label = m + (f" @ {d}" if len(datasets) > 1 else "")
        if len(runs_per[(m, d)]) > 1:
            label += f" [{r.rstrip('/').rsplit('/', 1)[-1]}]"
        out.append((label, m, d, group))
    return out


def build(number: int, cells: Sequence[CellResult]) -> ReportTable:
    """TABLE ``number`` (4, 5, 6, 7, 8, 10 or 11) from the cells whose setting feeds it."""
    lay = LAYOUTS[number]
    ptable = paper.load(number)
    rows = []
    for label, method, dataset, group in _groups(cells, lay.settings):
        if number == 11 and not any(c.long_videos for c in group.values()):
            continue
        match = ptable.row_for(method)
        values = tuple(_value(col, group, match[1] if match else None) for col in lay.columns)
        rows.append(ReportRow(label, method, dataset, match[0] if match else None,
                              "/".join(sorted({c.source for c in group.values()})), values))
    note = (f"paper: {paper.CITATION}. Δ = ours − paper; [..] = 95% bootstrap CI over videos (local scores); "
            "* = CI above the paper's number.")
    if number == 4:
        note += " Paper FPS/memory: one A6000; ours: `fps` and `gpu_reserved_gib` of this run's hardware."
    return ReportTable(number, lay.title, lay.columns, tuple(rows), note)


ATTRIBUTE_METRICS = (("JF_hat", "J&F̂"), ("JF_hat_d", "J&F̂_d"), ("JF_hat_r", "J&F̂_r"))


def attribute_table(cells: Sequence[CellResult]) -> ReportTable:
    """TABLE 9: one row per method (mask setting), columns attribute x (J&F̂, J&F̂_d, J&F̂_r) in the cells'
    attribute order (Overall first). No paper numbers (TABLE 9 was not transcribed)."""
    groups = [(label, m, d, g["mask"]) for label, m, d, g in _groups(cells, ("mask",)) if g["mask"].attributes]
    attrs: dict[str, None] = {}
    for *_, c in groups:
        for a in c.attributes:
            attrs.setdefault(a.attribute, None)
    columns = tuple(Column(k, f"{a} {t}", None) for a in attrs for k, t in ATTRIBUTE_METRICS)
    rows = []
    for label, method, dataset, c in groups:
        by = {a.attribute: a for a in c.attributes}
        vals = tuple(Value(getattr(by[a], k) if a in by else None, None, None, None, False)
                     for a in attrs for k, _ in ATTRIBUTE_METRICS)
        rows.append(ReportRow(label, method, dataset, None, c.source, vals))
    derived = sorted({a.attribute for *_, c in groups for a in c.attributes if a.derived})
    note = ("TABLE 9 layout (mask setting); attributes from the dataset's attributes.json where given"
            + (f", derived from ground truth for {', '.join(derived)}" if derived else "") + ".")
    return ReportTable(9, "TABLE 9: attribute-based analysis", columns, tuple(rows), note)
