"""Our scribble robot for interactive VOS (the DAVIS interactive robot's idea, our own code).

For each object on the chosen frame, the robot draws

* *positive* strokes on the object's false negatives (``gt == k`` and ``pred != k``), and
* *negative* strokes on its false positives (``pred == k`` and ``gt != k``),

each stroke following the skeleton of its error region, as the DAVIS robot does:

1. the region is smoothed by a morphological opening with a disk whose radius is
   ``kernel_fraction * sqrt(area) / 2`` capped at ``max_kernel_radius`` pixels (DAVIS: 0.2 and 16);
   while the opening erases the region the radius shrinks by 10 % until it reaches 1 px, below which
   the region yields no stroke (thin slivers along a boundary are not worth a scribble). With
   ``keep_thin`` (used for the very first interaction, where the region is the whole object) the
   unsmoothed region is used instead, so thin objects still get a scribble;
2. the opened region is thinned to a one-pixel skeleton (Zhang-Suen thinning, ``cv2.ximgproc``);
3. each connected component of the opened region gets one stroke: the longest path of its
   skeleton's 8-neighbour pixel graph (cycles removed by a minimum spanning tree — DAVIS removes the
   heaviest edge of each cycle, same intent — then two farthest-node searches). Zhang-Suen
   skeletons of round blobs shrink to a few pixels, so when the straight stroke along the
   component's major axis through its deepest pixel (kept to pixels at least half that depth
   inside) is longer, that is drawn instead — as a person would cross a round region;
4. strokes with fewer than ``min_nodes`` pixels are dropped (DAVIS: 4).

Unlike DAVIS, strokes are not smoothed into Bézier curves: a stroke is the pixel path itself, an
8-connected chain of pixel centres, so every point of it lies inside the error region. The robot has
no randomness: its strokes are a pure function of the two label maps.

For methods without a scribble interface, :func:`scribble_to_points` turns each stroke into one
click at the stroke's middle point (positive strokes -> positive clicks, negative -> negative).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from harness.api import PointsPrompt, ScribblePrompt


@dataclass(frozen=True)
class RobotConfig:
    kernel_fraction: float = 0.2
    max_kernel_radius: float = 16.0
    min_nodes: int = 4
    max_grid: int = 192


def _disk(radius: float) -> np.ndarray:
    r = int(np.floor(radius))
    yy, xx = np.ogrid[-r : r + 1, -r : r + 1]
    return (xx * xx + yy * yy <= radius * radius).astype(np.uint8)


def smooth_region(region: np.ndarray, cfg: RobotConfig = RobotConfig(), keep_thin: bool = False) -> np.ndarray:
    """Step 1: the opened region (a subset of ``region``), or an empty mask."""
    import cv2

    region = np.asarray(region, dtype=bool)
    area = int(region.sum())
    if area == 0:
        return region
    radius = min(cfg.kernel_fraction * np.sqrt(area) * 0.5, cfg.max_kernel_radius)
    if radius <= 1.0:
        return region  # too small to smooth: used as is (as DAVIS does)
    src = region.astype(np.uint8)
    while radius > 1.0:
        opened = cv2.morphologyEx(src, cv2.MORPH_OPEN, _disk(radius)).astype(bool)
        if opened.any():
            return opened & region
        radius *= 0.9
    return region if keep_thin else np.zeros_like(region)


def skeleton(region: np.ndarray) -> np.ndarray:
    """Step 2: one-pixel-wide skeleton (subset of ``region``), ``(H, W) bool``."""
    import cv2

    region = np.asarray(region, dtype=bool)
    if not region.any():
        return region
    # Pad: the thinning treats pixels beyond the image edge as set, which bends skeletons onto it.
    src = np.pad(region, 1, constant_values=False).astype(np.uint8) * 255
    sk = cv2.ximgproc.thinning(src, thinningType=cv2.ximgproc.THINNING_ZHANGSUEN)[1:-1, 1:-1]
    return (sk > 0) & region


def _pixel_graph(skel: np.ndarray):
    """Sparse symmetric 8-neighbour graph over skeleton pixels; returns (graph, rows, cols)."""
    from scipy.sparse import coo_matrix

    rows, cols = np.nonzero(skel)
    n = len(rows)
    index = -np.ones(skel.shape, dtype=np.int64)
    index[rows, cols] = np.arange(n)
    padded = np.pad(index, 1, constant_values=-1)
    src, dst, w = [], [], []
    for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each undirected edge once
        nb = padded[rows + 1 + dy, cols + 1 + dx]
        ok = nb >= 0
        src.append(np.arange(n)[ok])
        dst.append(nb[ok])
        w.append(np.full(int(ok.sum()), np.hypot(dy, dx)))
    s, d, ww = np.concatenate(src), np.concatenate(dst), np.concatenate(w)
    g = coo_matrix((np.r_[ww, ww], (np.r_[s, d], np.r_[d, s])), shape=(n, n)).tocsr()
    return g, rows, cols


def _longest_path(tree, nodes: np.ndarray) -> list[int]:
    """Longest path (by length) of a tree given as a symmetric sparse matrix restricted to ``nodes``."""
    from scipy.sparse.csgraph import dijkstra

    sub = tree[nodes][:, nodes]
    d0 = dijkstra(sub, directed=False, indices=0)
    a = int(np.argmax(np.where(np.isfinite(d0), d0, -1)))
    da, pred = dijkstra(sub, directed=False, indices=a, return_predecessors=True)
    b = int(np.argmax(np.where(np.isfinite(da), da, -1)))
    path = [b]
    while path[-1] != a:
        path.append(int(pred[path[-1]]))
    return [int(nodes[i]) for i in path]


def _pool_all(mask: np.ndarray, f: int) -> np.ndarray:
    """``f x f`` blocks -> one pixel, set only where the whole block is set."""
    h, w = mask.shape
    ph, pw = -h % f, -w % f
    m = np.pad(mask, ((0, ph), (0, pw)), constant_values=False)
    return m.reshape(m.shape[0] // f, f, m.shape[1] // f, f).all(axis=(1, 3))


def _densify(path: np.ndarray, f: int) -> np.ndarray:
    """Insert the pixels between consecutive points ``f`` apart (axis or diagonal steps)."""
    if f == 1 or len(path) < 2:
        return path
    steps = np.diff(path, axis=0) // f  # each in {-1, 0, 1}
    pieces = [path[:-1, None, :] + steps[:, None, :] * np.arange(f)[None, :, None]]
    return np.concatenate([pieces[0].reshape(-1, 2), path[-1:]], axis=0)


def _skeleton_path(crop: np.ndarray, cfg: RobotConfig) -> np.ndarray | None:
    """Longest skeleton path of one region component (crop coordinates, ``(N, 2)`` int ``x, y``)."""
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

    f = max(1, int(np.ceil(max(crop.shape) / cfg.max_grid)))
    grid = _pool_all(crop, f) if f > 1 else crop
    if f > 1 and not grid.any():  # long but thin: thin at full resolution (cheap for thin shapes)
        f, grid = 1, crop
    skel = skeleton(grid)
    if not skel.any():
        return None
    g, rows, cols = _pixel_graph(skel)
    tree = minimum_spanning_tree(g)  # Kruskal on a fixed edge order: deterministic
    tree = (tree + tree.T).tocsr()
    ncomp, labels = connected_components(g, directed=False)
    best = None
    for comp in range(ncomp):
        path = _longest_path(tree, np.nonzero(labels == comp)[0])
        if best is None or len(path) > len(best):
            best = path
    off = (f - 1) // 2
    pts = np.stack([cols[best] * f + off, rows[best] * f + off], axis=1)
    return _densify(pts, f)


def _axis_path(crop: np.ndarray) -> np.ndarray:
    """A straight stroke along the component's major axis through its most interior pixel, kept to
    the pixels at least half the maximal depth inside (crop coordinates, ``(N, 2)`` int ``x, y``).

    Skeletons of round regions degenerate to a few pixels; a person would still draw a line across
    such a region, and this is that line.
    """
    from harness.settings.clicks import _pick_max, interior_distance

    dt = interior_distance(crop)
    r0, c0 = _pick_max(dt)
    inner = dt >= max(1.0, 0.5 * float(dt[r0, c0]))
    ys, xs = np.nonzero(crop)
    if len(xs) < 2:
        return np.array([[c0, r0]])
    cov = np.cov(np.stack([xs, ys]).astype(float))
    w, v = np.linalg.eigh(cov)
    d = v[:, int(np.argmax(w))]
    if d[0] < 0 or (d[0] == 0 and d[1] < 0):
        d = -d  # fixed orientation: deterministic
    h, wd = crop.shape

    def walk(sign: int) -> list[tuple[int, int]]:
        pts = []
        k = 1
        while True:
            x = int(round(c0 + sign * k * d[0]))
            y = int(round(r0 + sign * k * d[1]))
            if not (0 <= x < wd and 0 <= y < h and inner[y, x]):
                return pts
            pts.append((x, y))
            k += 1

    line = walk(-1)[::-1] + [(c0, r0)] + walk(1)
    out = [line[0]]
    for p in line[1:]:
        if p != out[-1]:
            out.append(p)
    return np.array(out)


def strokes(region: np.ndarray, cfg: RobotConfig = RobotConfig(), keep_thin: bool = False) -> list[np.ndarray]:
    """Scribble strokes on an error region: a list of ``(N, 2) float`` arrays of ``(x, y)`` pixel
    centres, consecutive points 8-neighbours, longest stroke first. Empty when the region is.

    One stroke per connected component of the smoothed region: the longest path of its skeleton,
    or, when that is shorter (round blobs, whose skeleton is nearly a point), the straight stroke
    along the component's major axis through its deepest pixel (:func:`_axis_path`). Strokes with
    fewer than ``cfg.min_nodes`` pixels are dropped. Large components are thinned on a coarser grid
    (blocks of ``f x f`` pixels lying wholly inside, ``f`` chosen so the grid's longer side is at
    most ``cfg.max_grid``) and the path is mapped back to block centres and densified, so it still
    lies inside the region; this keeps the robot fast on 1080p frames.
    """
    region = np.asarray(region, dtype=bool)
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    if rows.size == 0:
        return []
    # Work in the region's box plus a background margin wider than the opening disk: the opening,
    # skeleton and strokes are then exactly those of the full frame, at a fraction of the cost.
    pad = int(np.ceil(cfg.max_kernel_radius)) + 2
    y0, x0 = max(0, int(rows[0]) - pad), max(0, int(cols[0]) - pad)
    y1, x1 = min(region.shape[0], int(rows[-1]) + pad + 1), min(region.shape[1], int(cols[-1]) + pad + 1)
    out = _strokes_in(region[y0:y1, x0:x1], cfg, keep_thin)
    return [st + np.array([x0, y0], dtype=np.float64) for st in out]


def _strokes_in(region: np.ndarray, cfg: RobotConfig, keep_thin: bool) -> list[np.ndarray]:
    from scipy.ndimage import find_objects, label

    sm = smooth_region(region, cfg, keep_thin)
    if not sm.any():
        return []
    lab, _ = label(sm, structure=np.ones((3, 3), dtype=bool))
    out: list[np.ndarray] = []
    for k, sl in enumerate(find_objects(lab), start=1):
        if sl is None:
            continue
        crop = lab[sl] == k
        if int(crop.sum()) < cfg.min_nodes:
            continue
        cands = [p for p in (_skeleton_path(crop, cfg), _axis_path(crop)) if p is not None]
        best = max(cands, key=len)
        if len(best) < cfg.min_nodes:
            continue
        out.append((best + np.array([sl[1].start, sl[0].start])).astype(np.float64))
    out.sort(key=lambda s: (-len(s), s[0][1], s[0][0]))
    return out


def interact(pred: np.ndarray, gt: np.ndarray, obj_ids: Iterable[int], frame: int,
             cfg: RobotConfig = RobotConfig(), initial: bool = False) -> dict[int, ScribblePrompt]:
    """One robot interaction on ``frame``: a :class:`ScribblePrompt` per object with any stroke.

    Args:
        pred: ``(H, W) uint8`` the method's label map on ``frame`` (zeros before the first round).
        gt: ``(H, W) uint8`` ground-truth label map on ``frame``.
        initial: first interaction: thin objects keep a stroke (see module docstring).
    """
    out: dict[int, ScribblePrompt] = {}
    for k in obj_ids:
        fn = (gt == k) & (pred != k)
        fp = (pred == k) & (gt != k)
        pos = strokes(fn, cfg, keep_thin=initial)
        neg = strokes(fp, cfg)
        if pos or neg:
            out[int(k)] = ScribblePrompt(frame=frame, obj_id=int(k), positive=tuple(pos), negative=tuple(neg))
    return out


def scribble_to_points(p: ScribblePrompt) -> PointsPrompt | None:
    """Scribbles -> clicks for methods without a scribble interface: one click per stroke at the
    stroke's middle point; positive strokes give positive clicks, negative strokes negative ones."""
    pts: list[tuple[float, float]] = []
    labels: list[int] = []
    for lab, group in ((1, p.positive), (0, p.negative)):
        for s in group:
            s = np.asarray(s)
            if len(s):
                x, y = s[len(s) // 2]
                pts.append((float(x), float(y)))
                labels.append(lab)
    if not pts:
        return None
    return PointsPrompt(frame=p.frame, obj_id=p.obj_id, points=tuple(pts), labels=tuple(labels))
