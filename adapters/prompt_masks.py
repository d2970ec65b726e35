"""Helpers shared by the classical baselines: prompt -> first mask (GrabCut), mask -> box.

All arrays follow :mod:`harness.api`: frames ``(H, W, 3) uint8`` RGB, masks ``(H, W) bool``,
boxes ``(x, y, w, h)`` pixels.
"""

from __future__ import annotations

import numpy as np

from harness.api import Box, BoxPrompt, MaskPrompt, PointsPrompt, Prompt, ScribblePrompt
from harness.boxes import box_of_mask, mask_of_box  # noqa: F401 - re-exported for the adapters
from harness.errors import CapabilityError


def int_box(box: Box, shape: tuple[int, int], min_side: int = 1) -> tuple[int, int, int, int]:
    """Round a box to ints inside the frame, each side at least ``min_side`` (grown about its
    centre where the frame allows); OpenCV trackers need int boxes."""
    h_img, w_img = shape
    x, y, w, h = box
    if w < min_side:
        x, w = x + w / 2 - min_side / 2, min_side
        x = min(max(x, 0), max(w_img - w, 0))
    if h < min_side:
        y, h = y + h / 2 - min_side / 2, min_side
        y = min(max(y, 0), max(h_img - h, 0))
    x0 = int(np.clip(round(x), 0, w_img - 1))
    y0 = int(np.clip(round(y), 0, h_img - 1))
    x1 = int(np.clip(round(x + w), x0 + 1, w_img))
    y1 = int(np.clip(round(y + h), y0 + 1, h_img))
    return x0, y0, x1 - x0, y1 - y0


def _grabcut(frame: np.ndarray, gc_mask: np.ndarray, iters: int) -> np.ndarray:
    """Run GrabCut on the region around the (probable) foreground hint; outside it is background.

    Cropping to the hint's box grown by half its size (at least 16 px) keeps enough background
    around the object for the colour models and makes a 720p prompt ~10x cheaper than a full frame.
    The RNG is seeded per call: GrabCut's k-means draws from OpenCV's process-wide generator, so
    without it a prompt's mask would depend on what ran earlier in the process (and so on the
    executor and on how videos are sharded).
    """
    import cv2

    fg = (gc_mask == cv2.GC_FGD) | (gc_mask == cv2.GC_PR_FGD)
    ys, xs = np.nonzero(fg)
    if xs.size == 0:
        return fg
    h, w = gc_mask.shape
    margin = max(16, int(max(xs.max() - xs.min(), ys.max() - ys.min()) // 2))
    y0, y1 = max(int(ys.min()) - margin, 0), min(int(ys.max()) + margin + 1, h)
    x0, x1 = max(int(xs.min()) - margin, 0), min(int(xs.max()) + margin + 1, w)
    crop = np.ascontiguousarray(gc_mask[y0:y1, x0:x1])
    bgr = np.ascontiguousarray(frame[y0:y1, x0:x1, ::-1])
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(bgr, crop, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:
        # GrabCut fails when one of the two models gets no sample (e.g. a box covering the
        # whole frame): fall back to the hint itself. Any other error (a bad option) is raised.
        if "Samples.empty()" not in str(exc):
            raise
    out = np.zeros((h, w), dtype=bool)
    out[y0:y1, x0:x1] = (crop == cv2.GC_FGD) | (crop == cv2.GC_PR_FGD)
    return out


def prompt_to_mask(prompt: Prompt, frame: np.ndarray, *, iters: int = 5) -> np.ndarray:
    """A first ``(H, W) bool`` mask for ``prompt`` on ``frame`` (GrabCut for non-mask prompts).

    Box: outside is background, inside "probably foreground". Points: a disk of radius 1/8 of the
    frame around each positive click is "probably foreground", the click itself foreground;
    negative clicks are background. Scribbles: positive strokes foreground with a "probably
    foreground" band around them, negative strokes background.
    """
    import cv2

    h, w = frame.shape[:2]
    if isinstance(prompt, MaskPrompt):
        if prompt.mask.shape != (h, w):
            raise CapabilityError(f"mask prompt of shape {prompt.mask.shape} for a {h}x{w} frame")
        return prompt.mask.astype(bool)
    gc = np.full((h, w), cv2.GC_BGD, np.uint8)
    if isinstance(prompt, BoxPrompt):
        x, y, bw, bh = int_box(prompt.box, (h, w))
        gc[y:y + bh, x:x + bw] = cv2.GC_PR_FGD
        fallback = mask_of_box(prompt.box, (h, w))
    elif isinstance(prompt, PointsPrompt):
        gc[:] = cv2.GC_PR_BGD
        pos = [(int(round(px)), int(round(py))) for (px, py), lab in zip(prompt.points, prompt.labels) if lab]
        # Several clicks on one object already spread over it: shrink each click's "probably
        # foreground" disk so that more clicks do not hand GrabCut more background as foreground.
        radius = max(2, int(max(h, w) / 8 / max(1, len(pos)) ** 0.5))
        neg = [(int(round(px)), int(round(py))) for (px, py), lab in zip(prompt.points, prompt.labels) if not lab]
        for p in pos:
            cv2.circle(gc, p, radius, int(cv2.GC_PR_FGD), -1)
        for p in pos:
            cv2.circle(gc, p, 2, int(cv2.GC_FGD), -1)
        for p in neg:
            cv2.circle(gc, p, 2, int(cv2.GC_BGD), -1)
        fallback = np.zeros((h, w), bool)
        for p in pos:
            cv2.circle(fallback.view(np.uint8), p, 2, 1, -1)
    elif isinstance(prompt, ScribblePrompt):
        gc[:] = cv2.GC_PR_BGD
        band = max(2, max(h, w) // 16)
        strokes = [np.round(s).astype(np.int32).reshape(-1, 1, 2) for s in prompt.positive]
        cv2.polylines(gc, strokes, False, int(cv2.GC_PR_FGD), thickness=2 * band)
        cv2.polylines(gc, strokes, False, int(cv2.GC_FGD), thickness=2)
        neg = [np.round(s).astype(np.int32).reshape(-1, 1, 2) for s in prompt.negative]
        if neg:
            cv2.polylines(gc, neg, False, int(cv2.GC_BGD), thickness=2)
        fallback = gc == cv2.GC_FGD
    else:
        raise CapabilityError(f"unsupported prompt type {type(prompt).__name__}")
    mask = _grabcut(frame, gc, iters)
    return mask if mask.any() else fallback


def check_prompt(caps, prompt: Prompt, who: str) -> None:
    """Raise :class:`CapabilityError` if ``prompt``'s kind is not in ``caps.prompts``."""
    if prompt.kind not in caps.prompts:
        accepted = ", ".join(sorted(k.value for k in caps.prompts))
        raise CapabilityError(
            f"method '{who}' does not accept {prompt.kind.value} prompts (it accepts: {accepted}); "
            "pick a setting that gives those prompts or a method that accepts this one"
        )
