"""One name per number: mosebench's metric keys, the official MOSE-api field names and the docs' symbols.

Every other place derives from :data:`MOSE_METRICS` — the official ``metrics.json``/``scores.txt`` writer
(:mod:`harness.metrics.report_files`), the evaluation-server reader (:mod:`harness.report.server`), the
report's column titles (:mod:`harness.report.layouts`) and the MLflow metric keys
(:mod:`harness.runner.mlflow_log`, which logs the keys as they are plus ``<key>_ci_low``/``_ci_high``).
docs/metrics.md prints the same table. Pure data: imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricName:
    """``key``: summary.json / MLflow / CSV key; ``official``: MOSE-api ``score.py`` field; ``symbol``: the
    paper's and docs' notation; ``columns``: the per-object fractions averaged into it (x100)."""

    key: str
    official: str
    symbol: str
    columns: tuple[str, ...]
    meaning: str


# In the official file's order (scores.txt lines and its Copy-Paste line).
MOSE_METRICS: tuple[MetricName, ...] = (
    MetricName("JF_hat", "J&F_new", "J&F̂", ("J", "F_hat"), "headline: (J + F̂)/2, F̂ = boundary F with MOSEv2's adaptive tolerance"),
    MetricName("J", "J", "J", ("J",), "region similarity (IoU)"),
    MetricName("F_hat", "F_new", "F̂", ("F_hat",), "boundary accuracy, adaptive tolerance"),
    MetricName("JF_hat_d", "disappear_J&F_new", "J&F̂_d", ("J_d", "F_hat_d"), "clips where the object disappears"),
    MetricName("JF_hat_r", "reappear_J&F_new", "J&F̂_r", ("J_r", "F_hat_r"), "clips where the object reappears"),
    MetricName("F", "F", "F", ("F",), "boundary accuracy, DAVIS fixed tolerance"),
    MetricName("JF", "J&F", "J&F", ("J", "F"), "the DAVIS-style (J + F)/2"),
)

#: official field -> mosebench key (``J&F_new`` -> ``JF_hat``), in the official order
OFFICIAL_TO_KEY: dict[str, str] = {m.official: m.key for m in MOSE_METRICS}
#: mosebench key -> the docs' symbol (``JF_hat`` -> ``J&F̂``)
SYMBOL: dict[str, str] = {m.key: m.symbol for m in MOSE_METRICS}

#: suffixes of the 95% bootstrap interval metrics logged next to a key (``JF_hat_ci_low``)
CI_LOW, CI_HIGH = "_ci_low", "_ci_high"


def ci_keys(key: str) -> tuple[str, str]:
    """The MLflow metric keys of ``key``'s 95% interval."""
    return key + CI_LOW, key + CI_HIGH
