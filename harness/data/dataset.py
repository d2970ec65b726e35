"""Dataset readers: MOSE / YouTube-VOS layout and DAVIS 2017.

MOSE (also MOSEv2, YouTube-VOS, and ``mosebench synth`` output)::

    ROOT/JPEGImages/<video>/<frame>.jpg      every frame
    ROOT/Annotations/<video>/<frame>.png     palette PNGs, pixel value = object id (may be sparse)
    ROOT/meta.json                           {"videos": {video: {"length", "height", "width", "objects"}}}
    ROOT/attributes.json                     optional, TABLE 3 codes per object (synthetic sets)

DAVIS 2017::

    ROOT/JPEGImages/480p|Full-Resolution/<video>/<frame>.jpg
    ROOT/Annotations/480p|Full-Resolution/<video>/<frame>.png
    ROOT/ImageSets/2017/<split>.txt          one video per line

Opening a dataset lists the video folders once and checks them against the meta. Each video's
folders are listed when the video is first requested; no image is decoded until asked for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.data.meta import Meta, ObjectMeta, VideoMeta, load_meta
from harness.data.video import Video
from harness.errors import DataError
from harness.names import check_name

LAYOUTS = ("mose", "davis")


def _visible(names: list[str]) -> list[str]:
    return [n for n in names if not n.startswith(".")]


def sort_frame_names(stems: list[str]) -> list[str]:
    """Numeric order when every stem is an integer (``"9"`` < ``"10"``), else lexicographic."""
    if stems and all(s.isdigit() for s in stems):
        return sorted(stems, key=lambda s: (int(s), s))
    return sorted(stems)


def find_gap(stems: list[str]) -> tuple[str, str, int] | None:
    """``(before, after, step)`` of the first hole in regularly numbered frame stems (most steps equal
    to the smallest, one larger jump), else ``None``. Irregular numbering (e.g. frames kept only where
    annotated) is left alone; so are stems that are not all integers. ``stems`` in frame order."""
    if len(stems) < 3 or not all(s.isdigit() for s in stems):
        return None
    nums = [int(s) for s in stems]
    steps = [b - a for a, b in zip(nums, nums[1:])]
    step = min(steps)
    if 2 * steps.count(step) <= len(steps):
        return None
    for a, b, d in zip(stems, stems[1:], steps):
        if d != step:
            return a, b, step
    return None


def _check_no_gaps(stems: list[str], image_dir: Path) -> None:
    """Raise when :func:`find_gap` finds a hole: a frame is missing."""
    gap = find_gap(stems)
    if gap is not None:
        a, b, step = gap
        raise DataError(
            f"frame(s) missing in {image_dir}: {a} is followed by {b} but frames advance by {step}; "
            "re-extract the video (predictions are due for every frame)"
        )


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.height, im.width
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"frame {path} is not a readable image ({exc}); re-extract or re-download it") from None


def load_attributes(path: Path) -> dict[str, dict[int, frozenset[str]]]:
    """``attributes.json`` -> ``video -> obj_id -> codes`` (empty if the file does not exist)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            vid: {int(oid): frozenset(codes) for oid, codes in objs.items()}
            for vid, objs in data["videos"].items()
        }
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{path} is malformed ({exc}); expected {{'videos': {{video: {{obj_id: [codes]}}}}}}") from None


@dataclass(frozen=True, eq=False)
class Dataset:
    """A set of videos on disk. Iterating yields :class:`Video` objects in ``videos`` order.

    Attributes:
        root: the dataset folder.
        layout: ``"mose"`` or ``"davis"``.
        videos: video names (meta order = sorted for MOSE; split-file order for DAVIS).
        meta: the parsed meta (``None`` when the dataset has none, e.g. DAVIS).
        meta_path: the meta.json used (``None`` if none); :meth:`derived_meta` builds one.
    """

    root: Path
    layout: str
    videos: tuple[str, ...]
    image_root: Path
    ann_root: Path
    meta: Meta | None = None
    meta_path: Path | None = None
    attributes: Mapping[str, Mapping[int, frozenset[str]]] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[Video]:
        for name in self.videos:
            yield self.video(name)

    def __contains__(self, name: object) -> bool:
        return name in self.videos

    def video(self, name: str) -> Video:
        """The video called ``name`` (folders listed on first request, then cached)."""
        v = self._cache.get(name)
        if v is None:
            if name not in self.videos:
                raise DataError(f"video {name!r} is not in dataset {self.root} ({len(self.videos)} videos)")
            v = self._cache[name] = self._build_video(name)
        return v

    def _build_video(self, name: str) -> Video:
        image_dir = self.image_root / name
        ann_dir = self.ann_root / name
        try:
            jpgs = [n for n in _visible(os.listdir(image_dir)) if n.lower().endswith((".jpg", ".jpeg"))]
        except FileNotFoundError:
            raise DataError(f"video {name!r}: frame folder {image_dir} does not exist") from None
        if not jpgs:
            raise DataError(f"video {name!r}: no .jpg frames in {image_dir}")
        exts = sorted({os.path.splitext(n)[1] for n in jpgs})
        if len(exts) > 1:  # frame paths are stem + one extension: "00003.jpeg" among ".jpg" would go missing
            odd = min(exts, key=lambda e: sum(n.endswith(e) for n in jpgs))
            first = sorted(n for n in jpgs if n.endswith(odd))[0]
            raise DataError(f"video {name!r}: {image_dir / first} has extension {odd!r} but other frames use "
                            f"{', '.join(repr(e) for e in exts if e != odd)}; rename it so every frame has the same "
                            "extension")
        ext = exts[0]
        stems = sort_frame_names([os.path.splitext(n)[0] for n in jpgs])
        stray = [s for s in stems if not s.isdigit()]
        if stray and len(stray) < len(stems):
            # a copy like "00005_copy.jpg" among numbered frames would become an extra frame and shift
            # every later frame index
            raise DataError(
                f"video {name!r}: {image_dir / (stray[0] + ext)} ({len(stray)} such file(s)) is not a numbered "
                f"frame like its neighbours ({stems[0]}{ext}); remove the stray file(s) from {image_dir}"
            )
        _check_no_gaps(stems, image_dir)
        index = {s: i for i, s in enumerate(stems)}
        try:
            listed = _visible(os.listdir(ann_dir))
        except (FileNotFoundError, NotADirectoryError):
            listed = []
        odd_case = sorted(n for n in listed if n.lower().endswith(".png") and not n.endswith(".png"))
        if odd_case:  # ignored by the official scorer's listing: the frame would count as missing
            raise DataError(f"video {name!r}: ground-truth mask {ann_dir / odd_case[0]} ({len(odd_case)} such) "
                            "has an upper-case extension; rename it to .png")
        pngs = [os.path.splitext(n)[0] for n in listed if n.endswith(".png")]
        orphans = sorted(p for p in pngs if p not in index)
        stray_pngs = [p for p in orphans if not p.isdigit()] if all(s.isdigit() for s in stems) else []
        if stray_pngs:
            # "00004 copy.png": a stray file, not a mask of a missing frame
            raise DataError(
                f"video {name!r}: {ann_dir / (stray_pngs[0] + '.png')} ({len(stray_pngs)} such file(s)) is a stray "
                f"file: its name is not a frame number like the frames in {image_dir}; remove or rename it"
            )
        if orphans:
            raise DataError(
                f"video {name!r}: ground truth {ann_dir / (orphans[0] + '.png')} has no frame "
                f"{image_dir / (orphans[0] + ext)} ({len(orphans)} such mask(s)); the frame is missing — "
                "re-extract the video"
            )
        annotated = tuple(sorted(index[p] for p in pngs))
        vm = self.meta.videos.get(name) if self.meta is not None else None
        height = vm.height if vm is not None else None
        width = vm.width if vm is not None else None
        if height is None or width is None:
            height, width = _image_size(image_dir / f"{stems[0]}{ext}")
        object_ids = tuple(vm.objects) if vm is not None else None
        first_frames = None
        gt_length = vm.length if vm is not None else None
        if vm is not None and self.meta is not None and self.meta.form == "youtube":
            first_frames = {}
            for oid, om in vm.objects.items():
                listed = [f for f in (om.frames or ()) if f in index]
                absent = [f for f in (om.frames or ()) if f not in index]
                if absent:
                    raise DataError(f"{self.meta.path}: object {oid} of video {name!r} lists frame {absent[0]!r} "
                                    f"but {image_dir} has no such frame; the frame is missing")
                if not listed:
                    raise DataError(f"{self.meta.path}: object {oid} of video {name!r} lists no frames")
                first_frames[oid] = min(index[f] for f in listed)
            if gt_length is None:
                gt_length = len({f for om in vm.objects.values() for f in (om.frames or ())})
        if gt_length is not None and len(annotated) > gt_length:
            raise DataError(
                f"meta.json disagrees with {ann_dir}: it promises {gt_length} ground-truth frames for video "
                f"{name!r} but the folder has {len(annotated)} PNGs; fix meta.json or remove stray masks"
            )
        if gt_length is not None and gt_length > len(stems):
            raise DataError(
                f"meta.json disagrees with {image_dir}: video {name!r} has length {gt_length} but only "
                f"{len(stems)} frames; frames are missing — re-extract the video"
            )
        return Video(
            name=name, frame_names=tuple(stems), height=int(height), width=int(width), annotated=annotated,
            image_dir=image_dir, ann_dir=ann_dir, object_ids=object_ids, first_frames=first_frames,
            attributes=dict(self.attributes.get(name, {})), gt_length=gt_length, image_ext=ext,
        )

    def derived_meta(self) -> Meta:
        """A MOSE-form meta for this dataset (``length`` = number of local GT frames); reads the
        first ground-truth frames to find objects where the dataset has no meta (DAVIS)."""
        if self.meta is not None:
            return self.meta
        videos = {}
        for v in self:
            objs = {oid: ObjectMeta(oid) for oid in v.objects}
            videos[v.name] = VideoMeta(v.name, objs, len(v.annotated), v.height, v.width)
        return Meta(path=None, videos=videos, form="mose")


def _folders(path: Path) -> list[str]:
    try:
        return sorted(n for n in _visible(os.listdir(path)) if (path / n).is_dir())
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; is the dataset root right?") from None


def _open_mose(root: Path, meta_path: Path | None, split: str | None) -> Dataset:
    if split is not None:
        if not (root / split / "JPEGImages").is_dir():
            raise DataError(f"split {split!r}: {root / split / 'JPEGImages'} does not exist")
        root = root / split
    image_root, ann_root = root / "JPEGImages", root / "Annotations"
    if not image_root.is_dir():
        raise DataError(f"{image_root} does not exist; a MOSE-layout dataset has JPEGImages/<video>/<frame>.jpg")
    if meta_path is None:
        meta_path = root / "meta.json"
        if not os.path.lexists(meta_path):
            # without it each video's objects would be those of its first GT frame: objects that
            # appear later (common in MOSEv2) would silently go unscored
            raise DataError(f"{meta_path} does not exist; a MOSE-layout dataset lists every object (also those "
                            "that appear after the first frame) in meta.json. Restore it from the dataset "
                            "download, or pass another one (--meta PATH / dataset.<name>.meta=PATH)")
    meta = load_meta(meta_path)
    folders = _folders(image_root)
    if meta is not None:
        missing = [v for v in meta.videos if v not in set(folders)]
        if missing:
            v = missing[0]
            why = ("does not exist" if not os.path.lexists(image_root / v) else
                   "is hidden (its name starts with '.'; mosebench skips such folders): rename the folder and "
                   "its meta entry" if v.startswith(".") else "is not a folder")
            raise DataError(f"meta.json disagrees with the folders: {meta_path} lists video {v!r} "
                            f"({len(missing)} such) but {image_root / v} {why}")
        extra = [v for v in folders if v not in meta.videos]
        if extra:
            raise DataError(f"meta.json disagrees with the folders: {image_root / extra[0]} ({len(extra)} such) "
                            f"is not listed in {meta_path}; add it to the meta or remove the folder")
        videos = tuple(meta.videos)
    else:
        videos = tuple(folders)
    if ann_root.is_dir():
        orphans = [v for v in _folders(ann_root) if v not in set(videos)]
        if orphans:
            raise DataError(f"{ann_root / orphans[0]} ({len(orphans)} such) holds ground truth of a video that is "
                            f"neither in {meta_path} nor under {image_root}; remove the folder, or add the video")
    return Dataset(root=root, layout="mose", videos=videos, image_root=image_root, ann_root=ann_root,
                   meta=meta, meta_path=meta_path, attributes=load_attributes(root / "attributes.json"))


def _open_davis(root: Path, meta_path: Path | None, split: str | None, resolution: str) -> Dataset:
    if resolution not in ("480p", "Full-Resolution"):
        raise DataError(f"DAVIS resolution {resolution!r} is not '480p' or 'Full-Resolution'")
    image_root = root / "JPEGImages" / resolution
    ann_root = root / "Annotations" / resolution
    if not image_root.is_dir():
        raise DataError(f"{image_root} does not exist; a DAVIS dataset has JPEGImages/{resolution}/<video>/")
    split = split or "val"
    split_file = root / "ImageSets" / "2017" / f"{split}.txt"
    try:
        videos = tuple(ln.strip() for ln in split_file.read_text().splitlines() if ln.strip())
    except FileNotFoundError:
        raise DataError(f"DAVIS split file {split_file} does not exist (split={split!r})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"DAVIS split file {split_file} cannot be read ({exc}); re-download it") from None
    for v in videos:
        check_name(v, what=f"{split_file}: video", fix="fix the split file", error=DataError)
    missing = [v for v in videos if not (image_root / v).is_dir()]
    if missing:
        raise DataError(f"{split_file} lists video {missing[0]!r} ({len(missing)} such) but "
                        f"{image_root / missing[0]} does not exist")
    meta = load_meta(meta_path) if meta_path is not None else None
    return Dataset(root=root, layout="davis", videos=videos, image_root=image_root, ann_root=ann_root,
                   meta=meta, meta_path=meta_path, attributes=load_attributes(root / "attributes.json"))


def open_dataset(root: str | os.PathLike, *, layout: str = "mose", meta: str | os.PathLike | None = None,
                 split: str | None = None, resolution: str = "480p") -> Dataset:
    """Open a dataset folder.

    Args:
        root: dataset root (see the module docstring for the layouts).
        layout: ``"mose"`` (MOSE, MOSEv2, YouTube-VOS, synthetic) or ``"davis"`` (DAVIS 2017).
        meta: a meta.json to use instead of ``ROOT/meta.json`` (MOSE form or YouTube-VOS form).
        split: MOSE: a sub-folder of ``root`` (``train``/``valid``); DAVIS: the ImageSets/2017 list
            (default ``val``).
        resolution: DAVIS only: ``480p`` or ``Full-Resolution``.

    Raises:
        DataError: missing folders, or a meta that disagrees with the folders.
    """
    if layout not in LAYOUTS:
        raise DataError(f"unknown dataset layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    root = Path(root)
    meta_path = Path(meta) if meta is not None else None
    if layout == "davis":
        return _open_davis(root, meta_path, split, resolution)
    return _open_mose(root, meta_path, split)
