"""``flow``: mask propagation by dense optical flow (OpenCV DIS), a classical VOS baseline.

Each object's mask on frame ``t`` is the mask of frame ``t-1`` warped backwards: the flow from
frame ``t`` to frame ``t-1`` tells, for every pixel of ``t``, where it came from, and
``cv2.remap`` samples the previous mask there. Box / point / scribble prompts become a first mask
through GrabCut (:func:`adapters.prompt_masks.prompt_to_mask`).

Keeping masks from drifting or eroding: the warped quantity is a soft mask in [0, 1] that is
*re-binarised* at 0.5 every frame (bilinear sampling of a binary mask and re-thresholding keeps
the boundary where it is, whereas carrying the soft mask lets it blur away and shrink), and
overlapping objects are resolved by the highest soft score, so objects cannot grow into each other.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from adapters.prompt_masks import check_prompt, prompt_to_mask
from harness.api import Capabilities, FrameResult, FrameSource, Method, Prompt, PromptKind, Session
from harness.errors import ConfigError
from harness.options import option


@dataclass(frozen=True)
class FlowConfig:
    """``preset``: DIS preset (ultrafast | fast | medium); ``grabcut_iters``: GrabCut iterations
    for non-mask prompts; ``max_side``: flow is computed on frames downscaled so that their longer
    side is at most this (0 = full resolution); ``boundary_band``: width in pixels of the band
    around each object's boundary where its fitted motion replaces the dense flow."""

    preset: str = option("medium", choices=("ultrafast", "fast", "medium"))
    grabcut_iters: int = option(5, ge=1)
    max_side: int = option(480, ge=0)
    boundary_band: int = option(4, ge=0)

    def __post_init__(self) -> None:
        if self.preset not in ("ultrafast", "fast", "medium"):
            raise ConfigError(f"flow.preset must be ultrafast | fast | medium, got {self.preset!r}")


class FlowSession(Session):
    def __init__(self, method: FlowBaseline, video: FrameSource) -> None:
        self.video = video
        self.cfg: FlowConfig = method.cfg
        self._who = method.name
        self._caps = method.capabilities
        self._prompts: dict[int, list[Prompt]] = {}  # frame -> prompts on it, in arrival order

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        check_prompt(self._caps, prompt, self._who)
        if not 0 <= prompt.frame < len(self.video):
            raise ConfigError(f"prompt on frame {prompt.frame} but video '{self.video.name}' has "
                              f"{len(self.video)} frames")
        self._prompts.setdefault(prompt.frame, []).append(prompt)
        return None

    def _flow_engine(self):
        import cv2

        preset = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                  "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                  "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[self.cfg.preset]
        dis = cv2.DISOpticalFlow_create(preset)
        dis.setFinestScale(0)  # full-resolution flow: coarser scales underestimate small motions
        return dis

    def propagate(self) -> Iterator[FrameResult]:
        import cv2

        h, w = self.video.height, self.video.width
        scale = 1.0
        if self.cfg.max_side and max(h, w) > self.cfg.max_side:
            scale = self.cfg.max_side / max(h, w)
        fh, fw = max(1, round(h * scale)), max(1, round(w * scale))
        dis = self._flow_engine()
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        soft: dict[int, np.ndarray] = {}  # obj_id -> (H, W) float32 in [0, 1]
        prev_gray = None
        for t, frame in self.video.stream():
            t0 = time.perf_counter()
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            if scale != 1.0:
                gray = cv2.resize(gray, (fw, fh), interpolation=cv2.INTER_AREA)
            if soft and prev_gray is not None:
                fwd = dis.calc(prev_gray, gray, None)  # pixel of t-1 -> its offset to t
                bwd = dis.calc(gray, prev_gray, None)  # pixel of t -> its offset to t-1
                if scale != 1.0:
                    fwd = cv2.resize(fwd, (w, h), interpolation=cv2.INTER_LINEAR) / scale
                    bwd = cv2.resize(bwd, (w, h), interpolation=cv2.INTER_LINEAR) / scale
                for oid, m in soft.items():
                    map_x, map_y = _backward_map(m, fwd, bwd, gx, gy, self.cfg.boundary_band)
                    warped = cv2.remap(m, map_x, map_y, cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                    soft[oid] = (warped >= 0.5).astype(np.float32)
            for prompt in self._prompts.get(t, ()):
                soft[prompt.obj_id] = prompt_to_mask(prompt, frame, iters=self.cfg.grabcut_iters
                                                     ).astype(np.float32)
            masks = _exclusive(soft, (h, w))
            prev_gray = gray
            # before the first prompt there is nothing to track: not a processed frame
            yield FrameResult(frame=t, masks=masks, model_time_s=time.perf_counter() - t0, processed=bool(soft))


def fit_affine(src: np.ndarray, dst: np.ndarray, *, partial: bool) -> np.ndarray:
    """``(2, 3)`` affine map of points ``src -> dst`` (``(N, 2) float32``) by RANSAC; rotation, scale
    and shift only when ``partial``. Falls back to the median shift when RANSAC finds no model."""
    import cv2

    fit = cv2.estimateAffinePartial2D if partial else cv2.estimateAffine2D
    model, _ = fit(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0)
    if model is None:
        model = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
        model[:, 2] = np.median(dst - src, axis=0)
    return model


def _backward_map(mask: np.ndarray, fwd: np.ndarray, bwd: np.ndarray, gx: np.ndarray, gy: np.ndarray,
                  band: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel of frame t samples the object's mask of frame t-1, ``(H, W) float32`` x2.

    Dense flow is smoothed across motion boundaries (the regulariser mixes object and background
    motion), so a mask warped by it alone loses a little of its leading edge every frame and
    erodes over a long video. Inside the object the dense backward flow is used (it follows
    deformation); in a band around the predicted boundary the object's own motion is used: a
    similarity transform fitted with RANSAC to the forward flow of the mask's interior pixels.
    """
    import cv2

    map_x, map_y = gx + bwd[..., 0], gy + bwd[..., 1]
    m8 = (mask >= 0.5).astype(np.uint8)
    inner = cv2.erode(m8, np.ones((5, 5), np.uint8)) if band else m8
    ys, xs = np.nonzero(inner if inner.sum() >= 8 else m8)
    if xs.size < 3 or not band:
        return map_x, map_y
    src = np.stack([xs, ys], 1).astype(np.float32)
    dst = src + fwd[ys, xs]
    model = fit_affine(src, dst, partial=True)
    inv = cv2.invertAffineTransform(model)
    px = inv[0, 0] * gx + inv[0, 1] * gy + inv[0, 2]
    py = inv[1, 0] * gx + inv[1, 1] * gy + inv[1, 2]
    predicted = cv2.warpAffine(m8, model, (m8.shape[1], m8.shape[0]), flags=cv2.INTER_NEAREST)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    edge = cv2.dilate(predicted, kernel) > cv2.erode(predicted, kernel)
    return (np.where(edge, px, map_x).astype(np.float32), np.where(edge, py, map_y).astype(np.float32))


def _exclusive(soft: Mapping[int, np.ndarray], shape: tuple[int, int]) -> dict[int, np.ndarray]:
    """Binary masks, each pixel given to at most one object (the highest soft score >= 0.5)."""
    if not soft:
        return {}
    ids = list(soft)
    stack = np.stack([soft[i] for i in ids])
    best = stack.argmax(0)
    fg = stack.max(0) >= 0.5
    return {oid: fg & (best == k) for k, oid in enumerate(ids)}


class FlowBaseline(Method):
    """Optical-flow mask propagation; runs the mask, box, point and scribble settings on CPU."""

    name = "flow"
    Config = FlowConfig
    requires = {"cv2": "pip install opencv-contrib-python-headless"}
    capabilities = Capabilities(
        prompts=frozenset({PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS, PromptKind.SCRIBBLE}),
        reprompt=True,
    )

    def __init__(self, cfg: FlowConfig | None = None, device: str = "cpu") -> None:
        super().__init__(cfg or FlowConfig(), device)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return FlowSession(self, video)
