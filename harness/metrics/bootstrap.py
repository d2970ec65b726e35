"""Bootstrap confidence intervals and paired comparisons of two result sets.

The dataset numbers are unweighted means over objects, but the objects of one video share its
scene, camera motion and clutter: they are not independent. The default resampling unit is
therefore the **video** (a cluster bootstrap: draw videos with replacement, average over all objects
of the drawn videos), which gives honest, wider intervals; ``unit="object"`` resamples objects
independently (the classic bootstrap, narrower when a video's objects are correlated). Every
function is seeded, so reruns give the same intervals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# dataset number -> the per-object columns whose mean(s) it averages (fractions in the object table)
MOSE_NUMBERS: dict[str, tuple[str, ...]] = {
    "JF_hat": ("J", "F_hat"), "J": ("J",), "F_hat": ("F_hat",), "JF_hat_d": ("J_d", "F_hat_d"),
    "JF_hat_r": ("J_r", "F_hat_r"), "F": ("F",), "JF": ("J", "F"),
}
DAVIS_NUMBERS: dict[str, tuple[str, ...]] = {
    "JF": ("J", "F"), "J": ("J",), "J_recall": ("J_recall",), "J_decay": ("J_decay",), "F": ("F",),
    "F_recall": ("F_recall",), "F_decay": ("F_decay",),
}


UNITS = ("video", "object")


def numbers_for(protocol: str) -> dict[str, tuple[str, ...]]:
    return MOSE_NUMBERS if protocol == "mose" else DAVIS_NUMBERS


def _groups(objects: Any, unit: str) -> np.ndarray:
    """``(N,)`` resampling-unit code per row of an object table (``video`` column for videos)."""
    if unit not in UNITS:
        raise ValueError(f"bootstrap unit must be one of {UNITS}, got {unit!r}")
    if unit == "object":
        return np.arange(len(objects))
    import pandas as pd

    return pd.factorize(objects["video"].astype(str))[0]  # codes in order of first appearance


def _resampled_means(v: np.ndarray, groups: np.ndarray | None, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``(samples,)`` means of ``v`` ``(N,)`` (NaNs skipped) over bootstrap draws of its groups
    (``groups`` ``(N,)`` codes 0..G-1; ``None``: every value its own group). Draws with no value: NaN."""
    if groups is None:
        groups = np.arange(v.size)
    ok = ~np.isnan(v)
    g = int(groups.max()) + 1 if groups.size else 0
    sums = np.bincount(groups, weights=np.where(ok, v, 0.0), minlength=g)
    counts = np.bincount(groups, weights=ok.astype(float), minlength=g)
    idx = rng.integers(0, g, size=(samples, g))
    cnt = counts[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, sums[idx].sum(axis=1) / np.where(cnt > 0, cnt, 1), np.nan)


def _per_object(objects: Any, cols: tuple[str, ...]) -> np.ndarray:
    """Per-object value of a number: the mean of its columns (NaN where the object has none)."""
    return np.mean([objects[c].to_numpy(dtype=float) for c in cols], axis=0)


def bootstrap_mean_ci(values: np.ndarray, *, groups: np.ndarray | None = None, samples: int = 1000,
                      seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the mean of ``values`` ``(N,)`` (NaNs = objects without a value, skipped).

    ``groups`` ``(N,)``: resampling-unit code (0..G-1) of each value, e.g. its video; ``None``
    resamples the values independently. Returns ``(nan, nan)`` when no value is defined.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0 or np.isnan(v).all():
        return float("nan"), float("nan")
    means = _resampled_means(v, None if groups is None else np.asarray(groups), samples, np.random.default_rng(seed))
    means = means[~np.isnan(means)]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def dataset_ci(objects: Any, protocol: str, *, samples: int = 1000, seed: int = 0,
               level: float = 0.95, unit: str = "video") -> dict[str, tuple[float, float]]:
    """95% bootstrap CIs (x100) for every dataset number of ``protocol`` from the object table
    (``video`` column + the numbers' columns), resampling ``unit`` (``video`` | ``object``)."""
    out = {}
    groups = _groups(objects, unit)
    for name, cols in numbers_for(protocol).items():
        lo, hi = bootstrap_mean_ci(_per_object(objects, cols), groups=groups, samples=samples, seed=seed,
                                   level=level)
        out[name] = (lo * 100, hi * 100)
    return out


@dataclass(frozen=True)
class PairedComparison:
    """B - A for one dataset number over the objects both sets score (x100).

    ``p_value``: two-sided bootstrap test of "mean difference = 0" (resampling the centred
    differences); ``n_objects``: objects with a value in both sets.
    """

    name: str
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n_objects: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, name: str = "", samples: int = 10000, seed: int = 0,
                     level: float = 0.95, groups: np.ndarray | None = None) -> PairedComparison:
    """Paired bootstrap of per-object values ``a``, ``b`` ``(N,)`` (fractions).

    ``groups`` ``(N,)``: resampling unit of each pair (e.g. its video's code); ``None`` resamples
    pairs independently. Pairs where either value is NaN are dropped. The CI is the percentile
    interval of the resampled mean difference; the p-value is ``(1 + #{|d* - d| >= |d|}) / (samples + 1)``.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in shape: {a.shape} vs {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if groups is not None:
        groups = np.unique(np.asarray(groups)[keep], return_inverse=True)[1]
    n = a.size
    if n == 0:
        nan = float("nan")
        return PairedComparison(name, nan, nan, nan, nan, nan, nan, 0)
    d = b - a
    obs = float(d.mean())
    rng = np.random.default_rng(seed)
    means = _resampled_means(d, groups, samples, rng)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    # tolerance: resampled means of identical differences differ from obs by rounding only
    tol = 1e-12 * max(1.0, abs(obs))
    extreme = np.count_nonzero(np.abs(means - obs) >= abs(obs) - tol) if abs(obs) > tol else samples
    p = (1 + extreme) / (samples + 1)
    return PairedComparison(name, float(a.mean()) * 100, float(b.mean()) * 100, obs * 100, float(lo) * 100,
                            float(hi) * 100, float(min(1.0, p)), n)


def compare_objects(objects_a: Any, objects_b: Any, protocol: str, *, samples: int = 10000,
                    seed: int = 0, unit: str = "video") -> dict[str, PairedComparison]:
    """Paired comparison of two object tables (same protocol) on their common (video, object) rows,
    resampling ``unit`` (``video`` | ``object``).

    Raises:
        DataError: the two tables share no object.
    """
    from harness.errors import DataError

    keys = ["video", "object"]
    merged = objects_a.merge(objects_b, on=keys, suffixes=("_a", "_b"), how="inner")
    if merged.empty:
        raise DataError("the two result sets share no (video, object); compare runs scored on the same videos")
    out: dict[str, PairedComparison] = {}
    groups = _groups(merged, unit)
    for name, cols in numbers_for(protocol).items():
        va = np.mean([merged[f"{c}_a"].to_numpy(dtype=float) for c in cols], axis=0)
        vb = np.mean([merged[f"{c}_b"].to_numpy(dtype=float) for c in cols], axis=0)
        out[name] = paired_bootstrap(va, vb, name=name, samples=samples, seed=seed, groups=groups)
    return out


def comparison_table(results: Mapping[str, PairedComparison]) -> str:
    """Markdown table of a paired comparison."""
    lines = ["| number | A | B | B - A | 95% CI | p | objects |", "|---|---|---|---|---|---|---|"]
    for r in results.values():
        lines.append(f"| {r.name} | {r.mean_a:.2f} | {r.mean_b:.2f} | {r.diff:+.2f} | "
                     f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}] | {r.p_value:.4f} | {r.n_objects} |")
    return "\n".join(lines) + "\n"
