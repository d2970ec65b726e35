"""DEVA unsupervised (TABLE 7) from a user's checkout plus an image segmenter's per-frame output.

DEVA's unsupervised VOS (``evaluation/eval_with_detections.py --dataset unsup_davis17``) does not
segment by itself: it merges the per-frame segments of an image segmenter (EntitySeg in its docs)
over time. mosebench ships no such segmenter, so the user gives its output:
``method.detections=DIR`` with ``DIR/<video>/<frame>.png`` for *every* frame, a label map (PNG mode
``P`` or ``L``: 0 = background, each other value one segment). This is the layout
``--mask_path DIR`` takes for ``unsup_davis17`` when the folder holds no JSON files (segments are then
the non-zero labels of each PNG after the resize, ``convert_json_dict_to_objects_info(mask, None)``,
and object ids stay short, 1..255). RGB PNGs and JSON segment info (DEVA's long-id / panoptic mode,
which changes id drawing and output encoding) are refused: convert them to label maps first.

What runs, per video (``deva-unsup``), with the checkout's own code (``DEVAInferenceCore``,
``FrameInfo``, ``convert_json_dict_to_objects_info``; isolated as in :mod:`adapters.deva_vos`),
driven as that script drives it (verified against it: ``tests/golden/deva_unsup/README.md``):

* semionline (default): frames with ``t + num_voting_frames > next_voting_frame`` are buffered
  (``add_to_temporary_buffer``); at ``t == next_voting_frame`` the buffer votes
  (``vote_in_temporary_buffer(keyframe_selection='first')``: the in-clip consensus, an integer
  programme solved by pulp), the result is merged into the propagated masks on the buffer's first
  frame (``incorporate_detection``: IoU > 0.5 matching, new segments become objects, objects unseen
  more than ``max_missed_detection_count`` detections are purged), the other buffered frames are
  propagated (``step``), then ``next_voting_frame += detection_every`` (past the end: never again);
  all other frames are propagated. ``online``: ``incorporate_detection`` with the frame's own segments
  every ``detection_every`` frames, ``step`` otherwise;
* output: probabilities resized bilinearly to the frame size (``size >= 0``), argmax, temporary ids
  mapped to object ids (``ResultSaver`` with remapping);
* then ``postprocess_unsup_davis17.limit_max_id`` (:func:`limit_max_id`, needs the whole video: this
  method is not streaming): frames in order, each frame's labels by (area, id) descending are appended
  to a list until it holds ``max_proposals`` entries -- the original does not skip labels already in
  the list, so an object seen on k frames takes k entries -- and every label is renumbered to
  1 + the index of its last entry; labels not in the list are dropped.

NumPy's global RNG: DEVA draws a new object id with ``np.random.randint(1, 256)`` whenever a new
segment's id collides with an id used before in the video (frequent: voted segments are numbered
1..N on every vote). eval_with_detections.py seeds ``np.random.seed(42)`` once per run, so there a
video's ids depend on the videos before it; here the generator is seeded with 42 for each video
(= the original run on that video alone, as the golden does) and its state is restored afterwards.
Ids only name objects; after the renumbering they matter only through the (area, id) tie-break.

Timing: ``model_time_s`` of each frame is the time of the whole video divided over its processed
frames (the output of a frame is decided only after the whole video).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.deva_vos import DEVA, INSTALL, DEVAConfig
from adapters.memory_vos import imagenet_frame
from harness.api import Capabilities, FrameResult, FrameSource, Prompt, Session
from harness.errors import CapabilityError, ConfigError, DataError, MissingDependencyError

NEEDED = ("deva.inference.inference_core", "deva.inference.frame_utils", "deva.inference.object_utils")
RNG_SEED = 42  # eval_with_detections.py: np.random.seed(42) at the start of main()


@dataclass(frozen=True)
class DEVAUnsupConfig(DEVAConfig):
    """Options of ``deva-unsup`` (``configs/method/deva-unsup.yaml``): those of ``deva`` plus
    eval_with_detections.py's, with its defaults.

    detections: folder ``DIR/<video>/<frame>.png`` of per-frame label maps (required).
    temporal_setting: ``semionline`` or ``online``. detection_every: a detection merged every this
    many frames. num_voting_frames: frames voting in semionline. max_missed_detection_count: an
    object unsupported by this many detections in a row is deleted. max_num_objects: objects kept in
    memory (-1: no limit). max_proposals: ``--postprocess_limit_max_id`` (the DAVIS 20-object rule;
    the session's ``max_objects`` caps it too).
    """

    detections: str | None = None
    temporal_setting: str = "semionline"
    detection_every: int = 5
    num_voting_frames: int = 3
    max_missed_detection_count: int = 5
    max_num_objects: int = -1
    max_proposals: int = 20

    def __post_init__(self) -> None:
        if self.temporal_setting not in ("semionline", "online"):
            raise ConfigError(f"deva-unsup.temporal_setting must be semionline or online, got '{self.temporal_setting}'")
        if self.detection_every < 1 or self.num_voting_frames < 1:
            raise ConfigError("deva-unsup needs detection_every >= 1 and num_voting_frames >= 1, got "
                              f"{self.detection_every}, {self.num_voting_frames}")
        if self.max_proposals < 1:
            raise ConfigError(f"deva-unsup.max_proposals must be >= 1, got {self.max_proposals}")
        if not self.detections:
            raise ConfigError("method deva-unsup needs an image segmenter's per-frame output: "
                              "method.detections=DIR with DIR/<video>/<frame>.png label maps on every frame "
                              "(e.g. EntitySeg's, as DEVA's docs use for DAVIS 2017 unsupervised)")
        if not Path(self.detections).expanduser().is_dir():  # here, so the runner refuses it before any work
            raise ConfigError(f"deva-unsup: method.detections '{self.detections}' is not a folder; it must hold "
                              "<video>/<frame>.png label maps from your image segmenter")
        super().__post_init__()

    def eval_config(self) -> dict[str, Any]:
        return {**super().eval_config(), "max_missed_detection_count": self.max_missed_detection_count,
                "max_num_objects": self.max_num_objects, "temporal_setting": self.temporal_setting,
                "detection_every": self.detection_every, "num_voting_frames": self.num_voting_frames}


def read_detection(path: Path, size: int, video: str, frame: str) -> np.ndarray:
    """``(h, w) int32`` label map as DetectionVideoReader reads a PNG: PIL nearest resize to short
    side ``size`` (torchvision's ``Resize`` on a PIL image), ``convert('P')``.

    Raises:
        DataError: the file is missing, unreadable or not a label map (named with video and frame).
    """
    from PIL import Image

    from adapters.memory_vos import resize_short_side

    if not path.is_file():
        raise DataError(f"deva-unsup: no detection for video '{video}' frame '{frame}' ({path} missing); "
                        "method.detections needs DIR/<video>/<frame>.png on every frame")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("P", "L"):
                raise DataError(f"deva-unsup: detection {path} (video '{video}' frame '{frame}') has PNG mode "
                                f"{im.mode}; give a label map (mode P or L, 0 = background)")
            if size >= 0:
                out_h, out_w = resize_short_side(im.height, im.width, size)
                if (out_h, out_w) != (im.height, im.width):
                    im = im.resize((out_w, out_h), Image.NEAREST)
            return np.array(im.convert("P"), dtype=np.int32)
    except OSError as exc:
        raise DataError(f"deva-unsup: detection {path} (video '{video}' frame '{frame}') cannot be read: {exc}") from None


def kept_ids(labels: list[np.ndarray], max_num_objects: int) -> list[int]:
    """The list postprocess_unsup_davis17.limit_max_id builds over a video's label maps (frames in
    order; each frame's labels by (area, id) descending, appended, repeats included, until it holds
    ``max_num_objects`` entries)."""
    kept: list[int] = []
    for lab in labels:
        ids, areas = np.unique(lab[lab != 0], return_counts=True)
        by_area = [int(x) for _, x in sorted(zip(areas.tolist(), ids.tolist()), reverse=True)]
        kept += by_area[:max_num_objects - len(kept)]
        if len(kept) == max_num_objects:
            break
    return kept


def renumber(lab: np.ndarray, kept: list[int]) -> np.ndarray:
    """limit_max_id's rewrite of one frame: label ``kept[i]`` -> ``i + 1`` (the last entry wins),
    others dropped; ``uint8``."""
    new = np.zeros(lab.shape, np.uint8)
    for idx, oid in enumerate(kept):
        new[lab == oid] = idx + 1
    return new


def limit_max_id(labels: list[np.ndarray], max_num_objects: int) -> list[np.ndarray]:
    """postprocess_unsup_davis17.limit_max_id on one video's ``(H, W)`` label maps (see the module
    docstring for its list semantics); returns ``uint8`` maps with ids 1..max_num_objects."""
    kept = kept_ids(labels, max_num_objects)
    return [renumber(lab, kept) for lab in labels]


class DEVAUnsupSession(Session):
    def __init__(self, method: DEVAUnsup, video: FrameSource, max_objects: int) -> None:
        self.method, self.video = method, video
        self.cap = min(max_objects, method.cfg.max_proposals)
        self.core: Any = None
        self.config: dict[str, Any] | None = None
        self.stats: dict[str, int] = {}

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        raise CapabilityError("deva-unsup takes no prompts (unsupervised VOS from detections); "
                              "use method=deva for prompted settings")

    def _detections(self) -> list[np.ndarray]:
        """Every frame's label map, checked before any model work."""
        video, cfg = self.video, self.method.cfg
        folder = Path(cfg.detections).expanduser() / video.name
        if not folder.is_dir():
            raise DataError(f"deva-unsup: method.detections has no folder for video '{video.name}' ({folder} missing)")
        jsons = sorted(folder.glob("*.json")) + sorted(folder.parent.glob("pred.json"))
        if jsons:  # eval_with_detections.py would switch to its long-id (panoptic) mode
            raise DataError(f"deva-unsup: {jsons[0]} is JSON segment info (DEVA's panoptic long-id mode), which "
                            "deva-unsup does not read; remove the JSON files and give label-map PNGs")
        return [read_detection(folder / f"{name}.png", cfg.size, video.name, name) for name in video.frame_names]

    def _run(self) -> tuple[list[np.ndarray | None], float]:
        """Label maps (object ids, None where not processed) before the cap, and model seconds."""
        import torch
        import torch.nn.functional as F

        method, cfg, video = self.method, self.method.cfg, self.video
        ck = method.checkout
        FrameInfo = ck["deva.inference.frame_utils"].FrameInfo
        to_objects = ck["deva.inference.object_utils"].convert_json_dict_to_objects_info
        dets = self._detections()
        n, height, width = len(video), video.height, video.width
        config = dict(method.config)
        config["enable_long_term_count_usage"] = config["enable_long_term"] and (
            n / (config["max_mid_term_frames"] - config["min_mid_term_frames"]) * config["num_prototypes"]
            >= config["max_long_term_elements"])
        self.config = config
        core = self.core = ck["deva.inference.inference_core"].DEVAInferenceCore(method.network, config=config)
        out: list[np.ndarray | None] = [None] * n
        stats = self.stats = {"votes": 0, "detections": 0, "added": 0, "purged": 0}
        seconds = 0.0

        def label_map(prob: Any) -> np.ndarray:
            if cfg.size >= 0:
                prob = F.interpolate(prob.unsqueeze(1), (height, width), mode="bilinear", align_corners=False)[:, 0]
            # object ids are short (1..255) in this mode: one byte per pixel for the whole video
            return core.object_manager.tmp_to_obj_cls(torch.argmax(prob, dim=0)).cpu().numpy().astype(np.uint8)

        def merge(image: Any, mask: Any, segments: Any) -> Any:
            before = set(core.object_manager.all_obj_ids)
            prob = core.incorporate_detection(image, mask, segments)
            after = set(core.object_manager.all_obj_ids)
            stats["detections"] += 1
            stats["added"] += len(after - before)
            stats["purged"] += len(before - after)
            return prob

        next_vote = cfg.num_voting_frames - 1
        for t, rgb in video.stream():
            start = time.perf_counter()
            with method.inference():
                image = imagenet_frame(rgb, cfg.size).to(method.device)
                mask = torch.from_numpy(dets[t]).to(method.device)
                segments = to_objects(mask, None, dataset="unsup_davis17")
                last = t == n - 1
                if cfg.temporal_setting == "online":
                    prob = merge(image, mask, segments) if t % cfg.detection_every == 0 \
                        else core.step(image, None, None, end=last)
                    out[t] = label_map(prob)
                elif t + cfg.num_voting_frames > next_vote:
                    core.add_to_temporary_buffer(FrameInfo(image, mask, segments, t, {}))
                    if t == next_vote:
                        first = core.frame_buffer[0]
                        _, voted, voted_segments = core.vote_in_temporary_buffer(keyframe_selection="first")
                        stats["votes"] += 1
                        out[first.ti] = label_map(merge(first.image, voted, voted_segments))
                        next_vote += cfg.detection_every
                        if next_vote >= n:
                            next_vote = n + cfg.num_voting_frames
                        for f in core.frame_buffer[1:]:
                            out[f.ti] = label_map(core.step(f.image, None, None, end=(f.ti == n - 1)))
                        core.clear_buffer()
                else:
                    out[t] = label_map(core.step(image, None, None, end=last))
            seconds += time.perf_counter() - start
        core.clear_buffer()  # a video shorter than num_voting_frames never votes (nor does the original)
        return out, seconds

    def propagate(self) -> Iterator[FrameResult]:
        """The whole video first (the 20-object rule needs it; its label maps are held as ``(H, W)
        uint8``, one byte per pixel per frame), then one result per frame: proposal ids 1..cap; frames
        the original never outputs are ``processed=False``."""
        state = np.random.get_state()
        np.random.seed(RNG_SEED)
        try:
            raw, seconds = self._run()
        finally:
            np.random.set_state(state)
            self.core = None
        done = [t for t, lab in enumerate(raw) if lab is not None]
        kept = kept_ids([raw[t] for t in done], self.cap)
        last = {oid: i + 1 for i, oid in enumerate(kept)}  # each kept object's id: 1 + its last entry
        ids = sorted(last.values())
        per_frame = seconds / max(len(done), 1)
        empty = np.zeros((self.video.height, self.video.width), bool)
        for t in range(len(self.video)):
            lab = raw[t]
            if lab is None:
                yield FrameResult(frame=t, masks={o: empty for o in ids}, processed=False)
                continue
            raw[t] = None  # renumbered once, then released
            lab = renumber(lab, kept)
            yield FrameResult(frame=t, masks={o: lab == o for o in ids}, model_time_s=per_frame)

    def close(self) -> None:
        self.core = None


class DEVAUnsup(DEVA):
    """DEVA's unsupervised VOS (eval_with_detections.py ``--dataset unsup_davis17``) from a checkout
    and a user-given image segmenter's per-frame output (``method.detections``).

    Masks equal that script's plus its ``limit_max_id`` (tests/golden/deva_unsup)."""

    name: ClassVar[str] = "deva-unsup"
    Config = DEVAUnsupConfig
    capabilities = Capabilities(prompts=frozenset(), add_objects_mid_video=False, unprompted=True, streaming=False)
    install: ClassVar[str] = (f"{INSTALL}; plus an image segmenter's output on every frame (mosebench ships none; "
                              "DEVA's docs use EntitySeg): method.detections=DIR with DIR/<video>/<frame>.png label maps")

    def __init__(self, cfg: DEVAUnsupConfig | None = None, device: str = "cpu") -> None:
        if cfg is None:
            raise ConfigError("method deva-unsup needs method.detections=DIR and a DEVA checkout (method.repo)")
        super().__init__(cfg, device)
        missing = [m for m in NEEDED if m not in self.checkout.modules]  # imported by inference_core
        if missing:
            raise MissingDependencyError(f"deva-unsup: the checkout '{cfg.repo}' lacks {missing[0]}; re-clone it")

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return DEVAUnsupSession(self, video, max_objects)
