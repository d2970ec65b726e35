"""Render :class:`~harness.report.layouts.ReportTable` as Markdown, CSV, LaTeX or one self-contained HTML page.

Every method gets an "ours" line; where the paper has the method, a "paper" line and a "Δ" line follow.
Values that were not measured (GPU memory on CPU) or not published print as "–".
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Mapping, Sequence

from harness.report.layouts import Column, ReportTable, Value

DASH = "–"


def _num(v: float | None, col: Column, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return DASH
    digits = 2 if col.kind == "memory" else 1
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _ours(v: Value, col: Column, ci: bool) -> str:
    text = _num(v.ours, col)
    if ci and v.ci and v.ours is not None:
        text += f" [{v.ci[0]:.1f}, {v.ci[1]:.1f}]"
    return text + ("*" if v.better else "")


def lines(t: ReportTable, *, ci: bool = True) -> list[list[str]]:
    """Header then body rows: [method, row kind, source, *column texts]."""
    out = [["method", "row", "source", *(c.title for c in t.columns)]]
    for r in t.rows:
        out.append([r.label, "ours", r.source, *(_ours(v, c, ci) for v, c in zip(r.values, t.columns))])
        if r.paper_label:
            out.append([r.paper_label, "paper", "", *(_num(v.paper, c) for v, c in zip(r.values, t.columns))])
            out.append(["", "Δ", "", *(_num(v.delta, c, signed=True) for v, c in zip(r.values, t.columns))])
    return out


def markdown(t: ReportTable) -> str:
    rows = lines(t)
    md = [f"### {t.title}", "", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    md += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    if not t.rows:
        md.append("| (no cells of this table's settings) |")
    return "\n".join([*md, "", t.note, ""])


def csv_text(tables: Sequence[ReportTable]) -> str:
    """Long format, machine-readable: one line per (table, method, column) with ours/CI/paper/delta."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table", "method", "dataset", "source", "paper_method", "column", "metric", "ours", "ci_low",
                "ci_high", "paper", "delta", "better_than_paper"])
    for t in tables:
        for r in t.rows:
            for v, c in zip(r.values, t.columns):
                w.writerow([t.number, r.method, r.dataset, r.source, r.paper_label or "", c.title, c.key,
                            "" if v.ours is None else v.ours, *(v.ci or ("", "")),
                            "" if v.paper is None else v.paper, "" if v.delta is None else v.delta, int(v.better)])
    return buf.getvalue()


_TEX = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}",
        "Δ": r"$\Delta$", "–": "--", "F̂": r"$\hat{F}$", "−": "$-$", "~": r"\~{}", "@": "@"}


def _tex(s: str) -> str:
    out = s.replace("\\", "\x00")  # restored after the braces are escaped
    for k, v in _TEX.items():
        out = out.replace(k, v)
    # anything else outside ASCII would stop pdflatex: spell it as its code point
    out = "".join(c if ord(c) < 128 else f"U+{ord(c):04X}" for c in out)
    return out.replace("\x00", r"\textbackslash{}")


def latex(tables: Sequence[ReportTable], *, standalone: bool = True) -> str:
    """LaTeX tables (booktabs-free: compiles with texlive-latex-base); ``standalone`` wraps a document."""
    parts = []
    for t in tables:
        rows = lines(t, ci=False)
        spec = "lll" + "r" * len(t.columns)
        body = [" & ".join(_tex(x) for x in rows[0]) + r" \\ \hline"]
        body += [" & ".join(_tex(x) for x in r) + r" \\" for r in rows[1:]]
        parts.append("\n".join([r"\begin{table}[ht]\centering\scriptsize", rf"\caption{{{_tex(t.title)}}}",
                                rf"\begin{{tabular}}{{{spec}}}", r"\hline", *body, r"\hline", r"\end{tabular}",
                                rf"\par\footnotesize {_tex(t.note)}", r"\end{table}"]))
    text = "\n\n".join(parts)
    if standalone:
        text = "\n".join([r"\documentclass{article}", r"\usepackage[utf8]{inputenc}",
                          r"\usepackage[margin=1cm,landscape]{geometry}", r"\begin{document}", text,
                          r"\end{document}", ""])
    return text


def html_page(tables: Sequence[ReportTable], images: Mapping[str, bytes], *, title: str = "mosebench report") -> str:
    """One self-contained page: the tables and the PNG plots inlined as base64 (no external requests)."""
    import base64

    out = ["<!doctype html><html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
           "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin:.5em 0}"
           "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child{text-align:left}"
           "tr.paper{color:#555}tr.delta{color:#226}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    for t in tables:
        rows = lines(t)
        out.append(f"<h2>{html.escape(t.title)}</h2><table><thead><tr>"
                   + "".join(f"<th>{html.escape(h)}</th>" for h in rows[0]) + "</tr></thead><tbody>")
        for r in rows[1:]:
            kind = {"ours": "ours", "paper": "paper", "Δ": "delta"}[r[1]]
            out.append(f"<tr class='{kind}'>" + "".join(f"<td>{html.escape(x)}</td>" for x in r) + "</tr>")
        out.append(f"</tbody></table><p><small>{html.escape(t.note)}</small></p>")
    for name, png in images.items():
        b64 = base64.b64encode(png).decode()
        out.append(f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{b64}'>"
                   f"<figcaption>{html.escape(name)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)
