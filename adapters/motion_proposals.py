"""``proposals``: weight-free unsupervised VOS from motion and colour, propagated by optical flow.

With no prompt, the session proposes objects on frame 0 (and looks for new moving ones every
``repropose_every`` frames), up to ``max_objects`` ids in all, and tracks them with the ``flow``
baseline's propagation (:class:`adapters.flow_baseline.FlowSession`, reused as is):

1. **Motion** (the proposal frame ``p`` and ``warmup`` frames after it): DIS optical flow from ``p``
   to each later frame ``k`` and back; a global affine model fitted with RANSAC (the camera /
   panning background) is subtracted, leaving the *residual* flow of independently moving things in
   frame-``p`` coordinates. Pixels failing the forward-backward check (hidden or uncovered in ``k``,
   e.g. under an object that enters) are ignored. The residual magnitude becomes a robust z-score
   (median / MAD over the frame), averaged over ``k``. Frame differencing against the
   motion-compensated background (frame ``k`` aligned by the global model) detects shot cuts: a
   jump in the median difference ends the warm-up.
2. **Colour**: SLIC superpixels (``cv2.ximgproc``) of frame ``p`` in Lab; averaging inside a
   superpixel smooths fine texture. Superpixels whose mean saliency reaches ``motion_z`` are
   *moving*; adjacent moving superpixels with similar residual velocity join, then neighbouring
   groups whose union is still nearly convex (one rotating blob, not two objects). The remaining
   superpixels join adjacent ones of similar mean colour into colour segments.
3. **Scoring**: a motion candidate scores ``1 + saliency`` (clipped mean z / 10) times its solidity
   (area / convex-hull area); a colour segment ``0.5 x solidity x contrast to its surroundings x
   (1 - its share of the frame border)``, so moving objects rank above static segments. Candidates
   outside ``[min_area, max_area]`` of the frame are dropped; ids go in score order, each pixel to
   the best candidate claiming it. On frame 0 colour segments may fill only three quarters of the
   slots, leaving room for objects that start moving or enter later; later searches add only
   moving candidates that the tracked masks do not already cover.

An id proposed on frame ``t`` is absent from the results before ``t`` (like an object prompted
mid-video) and present, possibly empty, in every frame after. A proposal frame's masks depend on
the warm-up frames after it, so the method is not streaming. With mask prompts it is exactly the
``flow`` baseline (the contract test's path; the unsupervised setting sends none).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from adapters.flow_baseline import FlowBaseline, FlowConfig, FlowSession, fit_affine
from adapters.prompt_masks import check_prompt
from harness.api import (
    Capabilities,
    FrameResult,
    FrameSource,
    MaskPrompt,
    Method,
    Prompt,
    PromptKind,
    Session,
)
from harness.errors import ConfigError, DataError
from harness.options import option
from harness.timing import ModelTimer


@dataclass(frozen=True)
class ProposalsConfig:
    """Options (``configs/method/proposals.yaml``).

    ``warmup``: frames after the first used to measure motion; ``superpixel``: SLIC region size in
    working-resolution pixels (0 = longer side / 20, at least 4); ``motion_z``: mean robust z-score
    that makes a superpixel moving; ``velocity_tol``: px/frame within which adjacent moving
    superpixels' residual velocities must agree to join; ``colour_dist``: Lab distance within which
    adjacent static superpixels join; ``merge_solidity``: adjacent moving groups then join while
    their union's area / convex-hull area stays at least this (1 = never); ``min_area`` /
    ``max_area``: candidate size bounds as fractions of the frame; ``repropose_every``: search for
    new moving objects every this many frames (0 = on frame 0 only); ``preset``, ``max_side``,
    ``boundary_band``: as the ``flow`` baseline (DIS preset, working resolution, propagation band).
    """

    warmup: int = option(4, ge=0)
    repropose_every: int = option(5, ge=0)
    superpixel: int = option(0, ge=0)
    motion_z: float = option(3.0, ge=0)
    velocity_tol: float = option(0.6, ge=0)
    colour_dist: float = option(10.0, ge=0)
    merge_solidity: float = option(0.9, gt=0, le=1)
    min_area: float = option(0.002, ge=0, le=1)
    max_area: float = option(0.4, gt=0, le=1)
    preset: str = option("medium", choices=("ultrafast", "fast", "medium"))
    max_side: int = option(480, ge=0)
    boundary_band: int = option(4, ge=0)

    def __post_init__(self) -> None:
        if min(self.warmup, self.repropose_every, self.superpixel) < 0 or not 0 < self.merge_solidity <= 1:
            raise ConfigError(f"proposals.warmup, repropose_every and superpixel must be >= 0 and "
                              f"merge_solidity in (0, 1], got {self.warmup}, {self.repropose_every}, "
                              f"{self.superpixel}, {self.merge_solidity}")
        if not 0.0 <= self.min_area < self.max_area <= 1.0:
            raise ConfigError(f"proposals needs 0 <= min_area < max_area <= 1, got {self.min_area}, "
                              f"{self.max_area}")
        FlowConfig(preset=self.preset)  # validates the preset with the flow baseline's message


@dataclass(frozen=True)
class MotionEvidence:
    """Motion measured on frame 0 at working resolution ``(h, w)``.

    ``saliency``: ``(h, w) float32`` robust z-score of independent motion (0 where none measured);
    ``velocity``: ``(h, w, 2) float32`` residual (camera-compensated) flow per frame, px/frame;
    ``frames_used``: how many later frames contributed (0: no motion evidence).
    """

    saliency: np.ndarray
    velocity: np.ndarray
    frames_used: int


def _robust_z(x: np.ndarray, valid: np.ndarray, floor: float) -> np.ndarray:
    vals = x[valid]
    if vals.size == 0:
        return np.zeros_like(x)
    med = float(np.median(vals))
    mad = 1.4826 * float(np.median(np.abs(vals - med)))
    return np.where(valid, (x - med) / max(mad, floor), 0.0).astype(np.float32)


def _global_affine(flow: np.ndarray) -> np.ndarray:
    """``(2, 3)`` affine mapping frame-0 pixels to frame ``k`` that best explains ``flow`` (RANSAC)."""
    h, w = flow.shape[:2]
    step = max(1, int(np.sqrt(h * w / 4000)))
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    ys, xs = ys.ravel(), xs.ravel()
    src = np.stack([xs, ys], 1).astype(np.float32)
    dst = src + flow[ys, xs]
    return fit_affine(src, dst, partial=False)


def measure_motion(labs: list[np.ndarray], grays: list[np.ndarray], preset: str) -> MotionEvidence:
    """Camera-compensated motion of frame 0 against each later frame (see the module docstring).

    ``labs``: ``(h, w, 3) float32`` Lab frames, ``grays``: ``(h, w) uint8``, frame 0 first.
    """
    import cv2

    h, w = grays[0].shape
    dis = cv2.DISOpticalFlow_create({"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                                     "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                                     "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset])
    dis.setFinestScale(0)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    z_sum = np.zeros((h, w), np.float32)
    n_valid = np.zeros((h, w), np.float32)
    velocity = np.zeros((h, w, 2), np.float32)
    first_diff = None
    used = 0
    for k in range(1, len(grays)):
        fwd = dis.calc(grays[0], grays[k], None)
        bwd = dis.calc(grays[k], grays[0], None)
        a = _global_affine(fwd)
        aligned = cv2.warpAffine(labs[k], a, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(-1e4, 0, 0))
        in_view = aligned[..., 0] > -1e3  # frame-0 pixels whose aligned frame-k sample is in view
        diff = np.linalg.norm(labs[0] - aligned, axis=-1)
        med = float(np.median(diff[in_view])) if in_view.any() else np.inf
        if first_diff is None:
            first_diff = med
        if not np.isfinite(med) or med > 3.0 * first_diff + 8.0 or med > 25.0:
            break  # a shot cut (or nothing aligns): later frames show another scene
        # forward-backward check: a pixel hidden or left behind in frame k (say, under an object
        # that enters) has no trustworthy flow; without it such regions light up as "moving"
        back = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(1e4, 1e4))
        err = np.linalg.norm(fwd + back, axis=-1)
        valid = in_view & (err <= 0.5 + 0.1 * np.linalg.norm(fwd, axis=-1))
        cam = np.stack([a[0, 0] * gx + a[0, 1] * gy + a[0, 2] - gx,
                        a[1, 0] * gx + a[1, 1] * gy + a[1, 2] - gy], -1)
        resid = fwd - cam
        z = _robust_z(np.linalg.norm(resid, axis=-1), valid, 0.15 * k)
        z_sum += np.where(valid, z, 0.0)
        n_valid += valid
        velocity += np.where(valid[..., None], resid / k, 0.0).astype(np.float32)
        used += 1
    saliency = z_sum / np.maximum(n_valid, 1)
    velocity /= np.maximum(n_valid, 1)[..., None]
    return MotionEvidence(saliency, velocity, used)


def _superpixels(lab: np.ndarray, size: int) -> np.ndarray:
    """``(h, w) int32`` SLICO labels ``0..n-1`` of a Lab frame."""
    import cv2

    lab8 = cv2.normalize(lab, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    slic = cv2.ximgproc.createSuperpixelSLIC(lab8, algorithm=cv2.ximgproc.SLICO, region_size=size)
    slic.iterate(10)
    slic.enforceLabelConnectivity(max(1, size * size // 4))
    return slic.getLabels().astype(np.int32)


def _adjacent_pairs(labels: np.ndarray) -> np.ndarray:
    """``(P, 2)`` unique pairs of 4-adjacent distinct labels."""
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    keep = a != b
    pairs = np.sort(np.stack([a[keep], b[keep]], 1), axis=1)
    return np.unique(pairs, axis=0) if pairs.size else pairs.reshape(0, 2)


def _union(n: int, pairs: np.ndarray, join: np.ndarray) -> np.ndarray:
    """Component id of each of ``n`` nodes after joining ``pairs[join]`` (union-find)."""
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs[join]:
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)])


def _hull_area(points: np.ndarray) -> float:
    """Pixel area of the convex hull of integer pixel centres ``(N, 2)`` (Pick-style correction:
    the polygon through pixel centres misses about half a pixel along its perimeter)."""
    import cv2

    hull = cv2.convexHull(points)
    return float(cv2.contourArea(hull) + cv2.arcLength(hull, True) / 2 + 1)


def _merge_convex(comp: np.ndarray, sp: np.ndarray, pairs: np.ndarray, solid_min: float) -> np.ndarray:
    """Join adjacent components (``pairs`` of superpixels) whose union stays nearly convex.

    A rotating or deforming object has uneven residual flow and splits into several velocity
    groups; its parts together still form one compact blob, while two neighbouring objects do not.
    Smallest unions first; ``solid_min``: least ``area / convex-hull area`` of a union.
    """
    import cv2

    lab = comp[sp]
    ys, xs = np.nonzero(np.ones_like(sp, bool))
    order = np.argsort(lab.ravel(), kind="stable")
    ids, starts = np.unique(lab.ravel()[order], return_index=True)
    points: dict[int, np.ndarray] = {}
    area: dict[int, int] = {}
    for k, c in enumerate(ids):
        sel = order[starts[k]:(starts[k + 1] if k + 1 < len(starts) else order.size)]
        pts = np.stack([xs[sel], ys[sel]], 1).astype(np.int32)
        points[int(c)] = cv2.convexHull(pts).reshape(-1, 2)
        area[int(c)] = int(sel.size)
    edges = {(int(min(a, b)), int(max(a, b))) for a, b in zip(comp[pairs[:, 0]], comp[pairs[:, 1]]) if a != b}
    parent = {c: c for c in points}

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for a, b in sorted(edges, key=lambda e: area[e[0]] + area[e[1]]):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        union = np.concatenate([points[ra], points[rb]])
        total = area[ra] + area[rb]
        if total / _hull_area(union) >= solid_min:
            parent[rb] = ra
            points[ra] = cv2.convexHull(union).reshape(-1, 2)
            area[ra] = total
    return np.array([find(int(c)) for c in comp])


def _solidity(mask: np.ndarray) -> float:
    import cv2

    pts = cv2.findNonZero(mask.astype(np.uint8))
    hull = cv2.contourArea(cv2.convexHull(pts)) if pts is not None and len(pts) >= 3 else 0.0
    return float(min(1.0, mask.sum() / hull)) if hull > 0 else 0.0


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_fill_holes

    return binary_fill_holes(mask)


@dataclass(frozen=True, eq=False)
class Candidate:
    """One proposed object on the proposal frame: ``mask`` ``(H, W) bool``, ``score`` (higher is
    better; > 1 only for moving candidates) and whether it was found by motion."""

    score: float
    mask: np.ndarray
    moving: bool


def candidates(frames: list[np.ndarray], cfg: ProposalsConfig) -> list[Candidate]:
    """Object candidates on ``frames[0]``, best first (they may overlap).

    ``frames``: the proposal frame then the warm-up frames, ``(H, W, 3) uint8`` RGB.
    """
    import cv2

    h0, w0 = frames[0].shape[:2]
    scale = cfg.max_side / max(h0, w0) if cfg.max_side and max(h0, w0) > cfg.max_side else 1.0
    h, w = max(1, round(h0 * scale)), max(1, round(w0 * scale))
    small = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) if scale != 1.0 else f for f in frames]
    labs = [cv2.cvtColor(f.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab) for f in small]
    grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in small]
    motion = measure_motion(labs, grays, cfg.preset)

    sp = _superpixels(labs[0], cfg.superpixel or max(4, round(max(h, w) / 20)))
    n = int(sp.max()) + 1
    count = np.maximum(np.bincount(sp.ravel(), minlength=n), 1)

    def sp_mean(x: np.ndarray) -> np.ndarray:
        return np.bincount(sp.ravel(), weights=x.ravel(), minlength=n) / count

    sal = sp_mean(np.clip(motion.saliency, 0, 10))
    vel = np.stack([sp_mean(motion.velocity[..., c]) for c in range(2)], 1)
    col = np.stack([sp_mean(labs[0][..., c]) for c in range(3)], 1)
    moving = sal >= cfg.motion_z if motion.frames_used else np.zeros(n, bool)
    pairs = _adjacent_pairs(sp)
    i, j = pairs[:, 0], pairs[:, 1]
    speed = np.maximum(np.linalg.norm(vel[i], axis=1), np.linalg.norm(vel[j], axis=1))
    join_moving = moving[i] & moving[j] & (
        np.linalg.norm(vel[i] - vel[j], axis=1) <= np.maximum(cfg.velocity_tol, 0.3 * speed))
    join_static = ~moving[i] & ~moving[j] & (np.linalg.norm(col[i] - col[j], axis=1) <= cfg.colour_dist)
    comp = _union(n, pairs, join_moving | join_static)
    if cfg.merge_solidity < 1.0:
        comp = _merge_convex(comp, sp, pairs[moving[i] & moving[j]], cfg.merge_solidity)

    from scipy.ndimage import find_objects

    border = np.zeros((h, w), bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    roots, comp_index = np.unique(comp, return_inverse=True)
    comp_map = comp_index.reshape(-1)[sp] + 1  # (h, w) component 1..C
    ring_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    out: list[Candidate] = []
    for c, box in enumerate(find_objects(comp_map)):
        if box is None:
            continue
        # work on the component's bounding box, padded for the contrast ring: cost ~ its area
        y0, y1 = max(box[0].start - 4, 0), min(box[0].stop + 4, h)
        x0, x1 = max(box[1].start - 4, 0), min(box[1].stop + 4, w)
        crop = _fill_holes(comp_map[y0:y1, x0:x1] == c + 1)
        area = crop.sum() / (h * w)
        if not cfg.min_area <= area <= cfg.max_area:
            continue
        solidity = _solidity(crop)
        lab = labs[0][y0:y1, x0:x1]
        edge = border[y0:y1, x0:x1]
        if moving[roots[c]]:
            score = (1.0 + float(np.clip(motion.saliency[y0:y1, x0:x1][crop], 0, 10).mean()) / 10.0) * solidity
        else:  # a static segment: object-like when compact and unlike its surroundings
            ring = cv2.dilate(crop.astype(np.uint8), ring_kernel).astype(bool) & ~crop
            contrast = np.linalg.norm(lab[crop].mean(0) - lab[ring].mean(0)) if ring.any() else 0.0
            score = 0.5 * solidity * min(1.0, contrast / 30.0) * (1.0 - (crop & edge).sum() / border.sum())
        mask = np.zeros((h, w), bool)
        mask[y0:y1, x0:x1] = crop
        if scale != 1.0:
            mask = cv2.resize(mask.astype(np.uint8), (w0, h0), interpolation=cv2.INTER_NEAREST) > 0
        out.append(Candidate(score, mask, bool(moving[roots[c]])))
    out.sort(key=lambda cand: -cand.score)
    return out


def select(cands: list[Candidate], limit: int, min_pixels: float, covered: np.ndarray | None = None,
           max_covered: float = 0.2) -> list[np.ndarray]:
    """Up to ``limit`` disjoint masks from ``cands`` (best first): each keeps the pixels no better
    candidate took; candidates left smaller than ``min_pixels`` are dropped, as are those with more
    than ``max_covered`` of their area inside ``covered`` (objects already tracked)."""
    out: list[np.ndarray] = []
    taken = np.zeros_like(cands[0].mask) if cands else None
    for cand in cands:
        if len(out) >= limit:
            break
        if covered is not None and (cand.mask & covered).sum() > max_covered * cand.mask.sum():
            continue
        mask = cand.mask & ~taken
        if mask.sum() < max(min_pixels, 1):
            continue
        taken |= mask
        out.append(mask)
    return out


class ProposalsSession(Session):
    def __init__(self, method: MotionProposals, video: FrameSource, max_objects: int) -> None:
        self.video = video
        self.cfg: ProposalsConfig = method.cfg
        self._who = method.name
        self._caps = method.capabilities
        self._max_objects = max(0, min(int(max_objects), 255))
        self._flow_method = method.flow
        self._flow = FlowSession(method.flow, video)
        self._prompted = False

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        check_prompt(self._caps, prompt, self._who)
        self._prompted = True
        return self._flow.add_prompt(prompt)

    def _propose(self, t: int, limit: int, covered: np.ndarray | None, timer: ModelTimer) -> list[np.ndarray]:
        stop = min(len(self.video), t + 1 + self.cfg.warmup)
        frames = [f for _, f in self.video.stream(t, stop)]  # decoding: not model time
        with timer:
            return self._select(frames, limit, covered)

    def _select(self, frames: list[np.ndarray], limit: int, covered: np.ndarray | None) -> list[np.ndarray]:
        cands = candidates(frames, self.cfg)
        if covered is not None:  # later proposals: only newly moving things
            cands = [c for c in cands if c.moving]
        else:  # first frame: all moving candidates, colour segments only up to the first share
            first_share = self._max_objects - self._max_objects // 4 if self.cfg.repropose_every else limit
            n_moving = sum(c.moving for c in cands)
            keep = max(first_share, n_moving)
            cands = [c for c in cands if c.moving] + [c for c in cands if not c.moving][:max(0, keep - n_moving)]
            cands.sort(key=lambda c: -c.score)
        min_pixels = self.cfg.min_area * self.video.height * self.video.width
        return select(cands, limit, min_pixels, covered)

    def propagate(self) -> Iterator[FrameResult]:
        """Flow propagation of the prompts if any were added; else of the proposals (ids ``1..K``
        in order of appearance, the first frame's best first)."""
        if self._prompted:
            yield from self._flow.propagate()
            return
        import cv2

        if max(self.video.height, self.video.width) < 12:
            raise DataError(f"video '{self.video.name}' frames are {self.video.height}x{self.video.width}: "
                            "DIS optical flow needs a side of at least 12 pixels; upscale the frames")
        # a fresh flow session per call: the proposals are not prompts the caller added. The
        # flow session reads its prompts for frame t when it reaches t, so proposals made on a
        # later frame are added just before that frame is pulled.
        flow = FlowSession(self._flow_method, self.video)
        frames = flow.propagate()
        next_id = 1
        previous: FrameResult | None = None
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        timer = ModelTimer()  # proposal work, charged to the frame proposed on
        for t in range(len(self.video)):
            every = self.cfg.repropose_every
            if next_id <= self._max_objects and (t == 0 or (every and t % every == 0)):
                covered = None
                if previous is not None:
                    with timer:
                        covered = np.zeros((self.video.height, self.video.width), np.uint8)
                        for m in previous.masks.values():
                            covered |= m.astype(np.uint8)
                        covered = cv2.dilate(covered, grow) > 0
                for mask in self._propose(t, self._max_objects - next_id + 1, covered, timer):
                    timer.call(flow.add_prompt, MaskPrompt(t, next_id, mask))
                    next_id += 1
            spent = timer.pop()
            fr = next(frames)
            if spent:  # the frame proposed on was processed, whether or not anything was found
                fr = dataclasses.replace(fr, model_time_s=fr.model_time_s + spent, processed=True)
            # every id proposed so far is in every later frame (an empty mask once its object is
            # lost); an id proposed on frame t is absent before t, like a prompt given mid-video
            masks = {k: fr.masks.get(k, np.zeros((self.video.height, self.video.width), bool))
                     for k in range(1, next_id)}
            previous = dataclasses.replace(fr, masks=masks)
            yield previous

    def close(self) -> None:
        self._flow.close()


class MotionProposals(Method):
    """Unsupervised VOS without weights: motion + colour proposals, tracked by optical flow."""

    name = "proposals"
    Config = ProposalsConfig
    requires = {"cv2": "pip install opencv-contrib-python-headless"}
    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK}), unprompted=True, streaming=False)

    def __init__(self, cfg: ProposalsConfig | None = None, device: str = "cpu") -> None:
        super().__init__(cfg or ProposalsConfig(), device)
        c = self.cfg
        self.flow = FlowBaseline(FlowConfig(preset=c.preset, max_side=c.max_side, boundary_band=c.boundary_band),
                                 device)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return ProposalsSession(self, video, max_objects)
