"""Disappearance (d) and reappearance (r) clips over an object's scored frames (MOSE-api rules).

Over the per-frame "GT empty" flags of the scored frames:

* a d-clip starts at every present -> empty transition and runs to the next reappearance
  (exclusive) or the end;
* an r-clip starts at every empty -> present transition and runs to the next disappearance
  (exclusive) or the end;
* an absence that already holds at the first scored frame is *not* a d-clip (its reappearance is an
  r-clip).

Clip value = mean over the clip's frames; object value = unweighted mean over its clips; an object
without clips of a kind has no value (``None``) for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Clips:
    """Half-open ``(start, stop)`` frame ranges (positions among the scored frames)."""

    disappear: tuple[tuple[int, int], ...]
    reappear: tuple[tuple[int, int], ...]


def find_clips(gt_empty: Sequence[bool] | np.ndarray) -> Clips:
    """d- and r-clips of one object from its ``(T,)`` GT-empty flags over the scored frames."""
    e = np.asarray(gt_empty, dtype=bool)
    t = e.size
    if t == 0:
        return Clips((), ())
    dis = [int(i) + 1 for i in np.flatnonzero(~e[:-1] & e[1:])]
    rep = [int(i) + 1 for i in np.flatnonzero(e[:-1] & ~e[1:])]
    d_clips = tuple((s, next((r for r in rep if r > s), t)) for s in dis)
    r_clips = tuple((s, next((d for d in dis if d > s), t)) for s in rep)
    return Clips(d_clips, r_clips)


def clip_mean(values: Sequence[float] | np.ndarray, clips: Sequence[tuple[int, int]]) -> float | None:
    """Unweighted mean over clips of each clip's mean of ``values``; ``None`` without clips."""
    if not clips:
        return None
    v = np.asarray(values, dtype=float)
    return float(np.mean([v[a:b].mean() for a, b in clips]))
