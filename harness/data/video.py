"""One video of a dataset: frame names, size, ground-truth frames, objects, lazy frames.

A :class:`Video` holds paths and small tuples only; frames and masks are decoded on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.data.frames import JpegFrames
from harness.data.masks import check_gt_ids, read_label_png
from harness.errors import DataError


@dataclass(frozen=True, eq=False)
class Video:
    """One video.

    Attributes:
        name: the video folder's name.
        frame_names: every frame's stem in order (``"00000"``, ...); predictions are due for each.
        height, width: frame size in pixels.
        annotated: ascending indices of the frames that have a ground-truth PNG (MOSEv2 annotates
            at least every 5th frame; a validation split may ship only the first annotated frame).
        image_dir, ann_dir: the JPEG and PNG folders of this video.
        object_ids: ids the meta lists, or ``None`` when there is no meta (DAVIS): then the objects
            are those in the first annotated frame (the DAVIS 2017 semi-supervised convention).
        first_frames: ``obj_id -> frame index`` when the meta says where each object is first
            annotated (YouTube-VOS form); otherwise found by reading ground truth (see ``objects``).
        attributes: ``obj_id -> frozenset`` of TABLE 3 codes (``attributes.json`` of a synthetic set;
            empty for real data unless provided).
        gt_length: number of ground-truth frames the meta promises (``None``: unknown). When it is
            larger than ``len(annotated)`` the local ground truth is partial (e.g. a validation split).
    """

    name: str
    frame_names: tuple[str, ...]
    height: int
    width: int
    annotated: tuple[int, ...]
    image_dir: Path
    ann_dir: Path
    object_ids: tuple[int, ...] | None = None
    first_frames: Mapping[int, int] | None = None
    attributes: Mapping[int, frozenset[str]] = field(default_factory=dict)
    gt_length: int | None = None
    image_ext: str = ".jpg"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.frame_names)

    @property
    def gt_complete(self) -> bool:
        """Whether every ground-truth frame the meta promises is present locally."""
        return self.gt_length is None or len(self.annotated) >= self.gt_length

    @property
    def frames(self) -> JpegFrames:
        """The frames as a :class:`harness.api.FrameSource` (what a method may see)."""
        src = self._cache.get("frames")
        if src is None:
            src = JpegFrames(self.name, self.frame_names,
                             [self.image_dir / f"{n}{self.image_ext}" for n in self.frame_names],
                             self.height, self.width)
            self._cache["frames"] = src
        return src

    def frame_path(self, index: int) -> Path:
        return self.image_dir / f"{self.frame_names[index]}{self.image_ext}"

    def gt_path(self, index: int) -> Path:
        """Path of frame ``index``'s ground-truth PNG (whether or not it exists)."""
        return self.ann_dir / f"{self.frame_names[index]}.png"

    def is_annotated(self, index: int) -> bool:
        return index in self._annotated_set

    @property
    def _annotated_set(self) -> frozenset[int]:
        s = self._cache.get("annotated_set")
        if s is None:
            s = self._cache["annotated_set"] = frozenset(self.annotated)
        return s

    def gt(self, index: int) -> np.ndarray:
        """Ground truth of frame ``index`` as ``(H, W) uint8`` object ids (0 = background).

        Raises:
            DataError: the frame is not annotated, the PNG is corrupt / RGB / of another size,
                or it holds an object id the meta does not list.
        """
        if not self.is_annotated(index):
            raise DataError(
                f"frame {index} ({self.frame_names[index] if 0 <= index < len(self) else '?'}) of video "
                f"{self.name!r} has no ground truth; annotated frames are Video.annotated"
            )
        path = self.gt_path(index)
        labels = read_label_png(path, expect_size=(self.height, self.width), what="ground-truth mask")
        if self.object_ids is not None:
            check_gt_ids(labels, self.object_ids, path, self.name)
        return labels

    @property
    def objects(self) -> Mapping[int, int]:
        """``obj_id -> index of the first annotated frame where the object is present``.

        From the meta when it lists frames per object (YouTube-VOS form). Otherwise ground truth is
        read in frame order only until every listed object was seen (usually just the first PNG),
        and cached; without a meta (DAVIS) the objects are those of the first annotated frame.

        Raises:
            DataError: an object the meta lists never appears in the local ground truth.
        """
        cached = self._cache.get("objects")
        if cached is not None:
            return cached
        if self.first_frames is not None:
            result = dict(sorted(self.first_frames.items()))
        elif not self.annotated:
            raise DataError(f"video {self.name!r} has no ground-truth PNG in {self.ann_dir}; "
                            "semi-supervised settings need at least the first annotated frame")
        elif self.object_ids is None:
            first = self.annotated[0]
            ids = np.flatnonzero(np.bincount(self.gt(first).ravel(), minlength=256))
            result = {int(i): first for i in ids if i != 0}
        else:
            result = {}
            wanted = set(self.object_ids)
            for idx in self.annotated:
                ids = np.flatnonzero(np.bincount(self.gt(idx).ravel(), minlength=256))
                for i in ids.tolist():
                    if i in wanted and i not in result:
                        result[i] = idx
                if len(result) == len(wanted):
                    break
            missing = sorted(wanted - set(result))
            if missing:
                raise DataError(
                    f"object(s) {missing} of video {self.name!r} are listed in meta.json but appear in no "
                    f"ground-truth PNG under {self.ann_dir}; remove them from meta.json or add their masks"
                )
            result = dict(sorted(result.items()))
        self._cache["objects"] = result
        return result
