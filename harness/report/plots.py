"""Report figures as PNG bytes (matplotlib, Agg): the paper's trade-offs and the VOT curves overlaid.

Each function returns None when the cells hold nothing to plot, so a report never shows an empty axis.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from harness.report.collect import CellResult


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    _plt().close(fig)
    return buf.getvalue()


def _label(c: CellResult) -> str:
    return f"{c.method} ({c.setting})"


def scatter(cells: Sequence[CellResult], x: str, y: str, xlabel: str, ylabel: str, title: str) -> bytes | None:
    """One point per cell with both metrics (e.g. J&F̂_d vs J&F̂_r: suppressing vs re-identifying)."""
    pts = [(c.metrics[x], c.metrics[y], _label(c)) for c in cells if x in c.metrics and y in c.metrics]
    if not pts:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4))
    for px, py, name in pts:
        ax.scatter([px], [py])
        ax.annotate(name, (px, py), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    return _png(fig)


def attribute_bars(cells: Sequence[CellResult]) -> bytes | None:
    """J&F̂ per attribute, one bar group per attribute, one bar per method (mask cells)."""
    rows = [c for c in cells if c.setting == "mask" and c.attributes]
    if not rows:
        return None
    attrs = list(dict.fromkeys(a.attribute for c in rows for a in c.attributes))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, len(attrs) * 0.8), 4))
    width = 0.8 / len(rows)
    for i, c in enumerate(rows):
        by = {a.attribute: a.JF_hat for a in c.attributes}
        ax.bar([k + i * width for k in range(len(attrs))], [by.get(a) or 0.0 for a in attrs], width,
               label=c.method)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(attrs))], attrs)
    ax.set(ylabel="J&F̂", title="J&F̂ per attribute (TABLE 9)", ylim=(0, 100))
    ax.legend(fontsize=7)
    return _png(fig)


def vot_curves(cells: Sequence[CellResult]) -> bytes | None:
    """Success and precision curves of every tracker (VOT cells) overlaid, AUC / P@20px in the legend."""
    from harness.metrics.vot import IOU_THRESHOLDS, PIXEL_THRESHOLDS

    rows = [c for c in cells if c.vot is not None]
    if not rows:
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for c in rows:
        a1.plot(IOU_THRESHOLDS[:len(c.vot.success)], c.vot.success,
                label=f"{c.method} [{c.metrics.get('AUC', float('nan')):.1f}]")
        if c.vot.precision:
            a2.plot(PIXEL_THRESHOLDS[:len(c.vot.precision)], c.vot.precision,
                    label=f"{c.method} [{c.metrics.get('P', float('nan')):.1f}]")
    a1.set(title="Success plot (AUC)", xlabel="overlap threshold", ylabel="success rate (%)", ylim=(0, 100))
    a2.set(title="Precision plot (P@20px)", xlabel="location error threshold (px)", ylabel="precision (%)",
           ylim=(0, 100))
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)


def figures(cells: Sequence[CellResult]) -> dict[str, bytes]:
    """Every figure the cells support, by file stem."""
    figs = {
        "jf_d_vs_jf_r": scatter(cells, "JF_hat_d", "JF_hat_r", "J&F̂_d (disappearing)", "J&F̂_r (reappearing)",
                                "Suppressing vs re-identifying"),
        "fps_vs_jf": scatter([c for c in cells if c.setting != "vot"], "fps", "JF_hat", "FPS", "J&F̂",
                             "Speed vs accuracy"),
        "attributes": attribute_bars(cells),
        "vot_curves": vot_curves(cells),
    }
    return {k: v for k, v in figs.items() if v is not None}
