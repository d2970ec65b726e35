"""Region similarity J from pixel counts (MOSE: +1 smoothing; DAVIS: plain IoU)."""

from __future__ import annotations

import math


def jaccard_mose(inter: int, union: int) -> float:
    """MOSE-api J: ``min(1, (|P∩G| + 1) / (|P∪G| + 1))``, 1 when the union is empty.

    An empty GT frame with a non-empty prediction of ``n`` pixels therefore scores ``1 / (n + 1)``.
    """
    if union == 0:
        return 1.0
    return min(1.0, (inter + 1) / (union + 1))


def jaccard_davis(inter: int, union: int) -> float:
    """davis2017-evaluation J: ``|P∩G| / |P∪G|``, 1 when the union is empty."""
    if union == 0:
        return 1.0
    return inter / union


def diagonal(height: int, width: int) -> float:
    """Frame diagonal ``D`` in pixels (``np.linalg.norm((H, W))``, bit-identical)."""
    return math.sqrt(height * height + width * width)
