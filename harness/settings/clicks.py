"""Deterministic positive-click placement for the point-initialised settings (point1/3/5).

The rule (docs/settings.md, "Clicks"):

1. The first click goes to the interior point of the object's mask farthest from its boundary: the
   maximum of the Euclidean distance transform of the mask, padded with background so the image
   border counts as boundary (as in the RITM/SAM click protocols).
2. Each later click is placed the same way on a *target region*:

   * methods with ``capabilities.prompt_feedback`` return their mask on the prompt frame after every
     click; the target region is the part of the object the method has not covered yet
     (``gt & ~prediction``), minus pixels already clicked;
   * otherwise (or when the method already covers the whole object) the target region is the
     *remaining mask*: the object minus the inscribed disk of every earlier click (the open disk
     centred on the click whose radius is the distance-transform value there), so each click claims
     the thick part of the object it sits in and the next goes to the thickest part left.

3. If the target region is empty (an object thinner than its clicks' disks), the click goes to the
   mask pixel farthest from all earlier clicks; if every mask pixel is clicked, no more clicks.

Ties between equally distant pixels go to the one nearest the centroid of the tied pixels, then to
the first in raster order, so placement is a pure function of the masks (no randomness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Click:
    """A positive click at pixel ``(x, y)`` = (column, row).

    ``radius``: the distance-transform value at the click on the region it was placed in (the
    radius of its inscribed disk). ``rule``: "interior" (first click), "feedback", "remaining" or
    "farthest" (see the module docstring).
    """

    x: int
    y: int
    radius: float
    rule: str

    @property
    def xy(self) -> tuple[float, float]:
        return (float(self.x), float(self.y))


def _pick_max(values: np.ndarray) -> tuple[int, int]:
    """``(row, col)`` of the maximum of ``values`` with the deterministic tie rule."""
    vmax = values.max()
    rows, cols = np.nonzero(values == vmax)
    if len(rows) == 1:
        return int(rows[0]), int(cols[0])
    cy, cx = rows.mean(), cols.mean()
    d = (rows - cy) ** 2 + (cols - cx) ** 2
    k = int(np.argmin(d))  # argmin returns the first (raster-order) among equals
    return int(rows[k]), int(cols[k])


def interior_distance(region: np.ndarray) -> np.ndarray:
    """Distance of each region pixel to the nearest non-region pixel, the image border counting as
    non-region. ``region``: ``(H, W) bool``; returns ``(H, W) float`` (0 outside the region)."""
    from scipy.ndimage import distance_transform_edt

    padded = np.pad(np.asarray(region, dtype=bool), 1, mode="constant", constant_values=False)
    return distance_transform_edt(padded)[1:-1, 1:-1]


def farthest_interior_point(region: np.ndarray) -> Click | None:
    """The region's pixel farthest from its boundary, or ``None`` for an empty region."""
    if not region.any():
        return None
    dt = interior_distance(region)
    r, c = _pick_max(dt)
    return Click(c, r, float(dt[r, c]), "interior")


def _disks(shape: tuple[int, int], clicks: Sequence[Click]) -> np.ndarray:
    covered = np.zeros(shape, dtype=bool)
    for ck in clicks:
        rad = max(ck.radius, 1.0)
        r0, r1 = max(0, int(np.floor(ck.y - rad)) ), min(shape[0], int(np.ceil(ck.y + rad)) + 1)
        c0, c1 = max(0, int(np.floor(ck.x - rad))), min(shape[1], int(np.ceil(ck.x + rad)) + 1)
        yy, xx = np.ogrid[r0:r1, c0:c1]
        covered[r0:r1, c0:c1] |= (yy - ck.y) ** 2 + (xx - ck.x) ** 2 < rad ** 2
    return covered


def next_click(mask: np.ndarray, previous: Sequence[Click] = (),
               prediction: np.ndarray | None = None) -> Click | None:
    """The next positive click on object ``mask`` given earlier clicks.

    Args:
        mask: ``(H, W) bool`` ground-truth mask of the object on the prompt frame.
        previous: clicks already given for this object on this frame, in order.
        prediction: ``(H, W) bool`` the method's current mask for the object on this frame, when the
            method gives prompt feedback; ``None`` otherwise.

    Returns ``None`` when the mask is empty or every mask pixel has been clicked.
    """
    mask = np.asarray(mask, dtype=bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    # Every target region lies inside the mask's box: work there (one background pixel of margin
    # keeps the distances exactly those of the full frame; see interior_distance).
    y0, x0 = max(0, int(rows[0]) - 1), max(0, int(cols[0]) - 1)
    y1, x1 = min(mask.shape[0], int(rows[-1]) + 2), min(mask.shape[1], int(cols[-1]) + 2)
    crop = (slice(y0, y1), slice(x0, x1))
    prev = [Click(c.x - x0, c.y - y0, c.radius, c.rule) for c in previous]
    if any(not (0 <= c.x < x1 - x0 and 0 <= c.y < y1 - y0) for c in prev):
        raise ValueError("earlier clicks must lie on the mask")
    pr = None if prediction is None else np.asarray(prediction, dtype=bool)[crop]
    ck = _next_click(mask[crop], prev, pr)
    return None if ck is None else Click(ck.x + x0, ck.y + y0, ck.radius, ck.rule)


def _next_click(mask: np.ndarray, previous: Sequence[Click], prediction: np.ndarray | None) -> Click | None:
    if not previous:
        return farthest_interior_point(mask)
    clicked = np.zeros(mask.shape, dtype=bool)
    for ck in previous:
        clicked[ck.y, ck.x] = True
    if prediction is not None:
        region = mask & ~np.asarray(prediction, dtype=bool) & ~clicked
        if region.any():
            dt = interior_distance(region)
            r, c = _pick_max(dt)
            return Click(c, r, float(dt[r, c]), "feedback")
    region = mask & ~_disks(mask.shape, previous) & ~clicked
    if region.any():
        dt = interior_distance(region)
        r, c = _pick_max(dt)
        return Click(c, r, float(dt[r, c]), "remaining")
    # Thin object: its earlier clicks' disks cover it. Farthest-point sampling within the mask.
    from scipy.ndimage import distance_transform_edt

    d = distance_transform_edt(~clicked)
    d[~mask] = -1.0
    if d.max() <= 0:
        return None
    r, c = _pick_max(d)
    return Click(c, r, float(interior_distance(mask)[r, c]), "farthest")


def place_clicks(mask: np.ndarray, n: int) -> list[Click]:
    """``n`` clicks (fewer only if the mask has fewer pixels) without method feedback."""
    clicks: list[Click] = []
    for _ in range(n):
        ck = next_click(mask, clicks)
        if ck is None:
            break
        clicks.append(ck)
    return clicks
