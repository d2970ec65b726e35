"""The MOSEv2 paper's published numbers (arXiv:2508.05630), read from ``paper_numbers/tableN.csv``.

The CSVs are facts transcribed from the paper (see ``paper_numbers/README.md`` for which columns were lost in
extraction and left empty). A mosebench method name maps to a paper row label through :data:`PAPER_LABELS`
(an explicit table, never a guess from the name's spelling).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "paper_numbers"
CITATION = ("H. Ding et al., MOSEv2: A More Challenging Dataset for Video Object Segmentation in Complex Scenes, "
            "arXiv:2508.05630 (2025), MOSEv2 validation set")
TABLES = (4, 5, 6, 7, 8, 10, 11)

# mosebench method -> the paper's row label (fine-tuned, not "(ZS)", where the paper prints both: the
# released SAM2 checkpoints mosebench loads are the zero-shot ones, see ZERO_SHOT).
PAPER_LABELS: dict[str, str] = {
    "sam2-b+": "SAM2-B+", "sam2-l": "SAM2-L", "cutie": "Cutie-B", "cutie-b": "Cutie-B",
    "xmem": "XMem", "deaot": "DeAOT-L", "deaot-l": "DeAOT-L", "deva": "DEVA", "deva-unsup": "DEVA", "stcn": "STCN", "samurai-b+": "SAMURAI-B+", "samurai-l": "SAMURAI-L",
    "dam4sam-b+": "DAM4SAM-B+", "dam4sam-l": "DAM4SAM-L", "sam2long-b+": "SAM2Long-B+", "sam2long-l": "SAM2Long-L",
    # TABLE 10's box trackers (size variants are configs/method/<name>.yaml aliases)
    "seqtrack-b": "SeqTrack-B", "seqtrack-l": "SeqTrack-L", "aqatrack": "AQATrack-B", "aqatrack-256": "AQATrack-B",
    "odtrack-b": "ODTrack-B", "odtrack-l": "ODTrack-L", "lorat-b": "LORAT-B", "lorat-l": "LORAT-L",
    "sutrack-b": "SUTrack-B", "sutrack-l": "SUTrack-L",
}
# TABLE 4 prints the released (zero-shot) SAM2 weights separately: those are what sam2-b+/sam2-l run.
ZERO_SHOT: dict[str, str] = {"sam2-b+": "SAM2-B+ (ZS)", "sam2-l": "SAM2-L (ZS)"}
# TABLE 11 names methods without a size.
FAMILY: dict[str, str] = {"sam2-b+": "SAM2", "sam2-l": "SAM2", "sam2-t": "SAM2", "sam2-s": "SAM2",
                          "samurai-b+": "SAMURAI", "samurai-l": "SAMURAI", "dam4sam-b+": "DAM4SAM",
                          "dam4sam-l": "DAM4SAM", "sam2long-b+": "SAM2Long", "sam2long-l": "SAM2Long"}


@dataclass(frozen=True)
class PaperTable:
    """One paper table: ``rows[label][column]`` (x100 as printed; None = not printed / not transcribed)."""

    number: int
    columns: tuple[str, ...]
    rows: dict[str, dict[str, float | None]]

    def row_for(self, method: str) -> tuple[str, dict[str, float | None]] | None:
        """(paper label, values) of the paper row a mosebench method is compared with, or None."""
        for table in (ZERO_SHOT, PAPER_LABELS, FAMILY) if self.number == 4 else (PAPER_LABELS, FAMILY):
            label = table.get(method)
            if label in self.rows:
                return label, self.rows[label]
        return None


def _value(text: str) -> float | None:
    return float(text) if text.strip() else None


def load(number: int) -> PaperTable:
    """The paper's TABLE ``number`` (one of :data:`TABLES`)."""
    path = DATA / f"table{number}.csv"
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = tuple(c for c in reader.fieldnames or () if c not in ("method", "pub"))
        rows = {r["method"]: {c: _value(r[c]) for c in columns} for r in reader}
    return PaperTable(number, columns, rows)
