"""``meta.json`` as MOSE and YouTube-VOS ship it, parsed into frozen dataclasses.

Two forms are accepted (both ``{"videos": {video: {...}}}``):

* **MOSE**: ``{"length": L, "height": H, "width": W, "objects": {"1": {...}, "2": {...}}}``.
  The official MOSEv2 scorer (``MOSEv2/sam2_rcms/tools/score.py``) checks ``length`` against the
  number of ground-truth PNGs of the video and scores every object key, so ``length`` is the number of
  *annotated* frames, not of all frames.
* **YouTube-VOS**: ``{"objects": {"1": {"category": "cat", "frames": ["00000", "00005", ...]}}}``:
  every object lists the frames it is annotated in; ``length``/``height``/``width`` may be missing.

Object values may carry anything else (e.g. ``category``); only ``frames`` is interpreted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.names import check_name


@dataclass(frozen=True)
class ObjectMeta:
    """One object of a video. ``frames``: the annotated frame stems (YouTube-VOS form) or ``None``."""

    obj_id: int
    category: str | None = None
    frames: tuple[str, ...] | None = None


@dataclass(frozen=True)
class VideoMeta:
    """One video's entry. ``length``: number of ground-truth frames (``None`` if the meta omits it)."""

    name: str
    objects: Mapping[int, ObjectMeta]
    length: int | None = None
    height: int | None = None
    width: int | None = None


@dataclass(frozen=True)
class Meta:
    """A parsed ``meta.json``. ``form`` is ``"mose"`` or ``"youtube"`` (objects list their frames)."""

    path: Path | None
    videos: Mapping[str, VideoMeta]
    form: str

    def video(self, name: str) -> VideoMeta:
        try:
            return self.videos[name]
        except KeyError:
            raise DataError(f"video {name!r} is not in {self.path or 'the meta'}") from None

    def to_json(self) -> dict[str, Any]:
        """The MOSE-form dict (``{"videos": ...}``) the official scorer reads."""
        videos: dict[str, Any] = {}
        for name, vm in self.videos.items():
            objs: dict[str, Any] = {}
            for oid, om in vm.objects.items():
                entry: dict[str, Any] = {}
                if om.category is not None:
                    entry["category"] = om.category
                if om.frames is not None:
                    entry["frames"] = list(om.frames)
                objs[str(oid)] = entry
            v: dict[str, Any] = {"objects": objs}
            for key in ("length", "height", "width"):
                if getattr(vm, key) is not None:
                    v[key] = getattr(vm, key)
            videos[name] = v
        return {"videos": videos}


def _int_field(path: Path, vid: str, entry: Mapping[str, Any], key: str, low: int = 0) -> int | None:
    if key not in entry:
        return None
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        what = "a non-negative integer" if low == 0 else f"an integer >= {low}"
        raise DataError(f"{path}: videos.{vid}.{key} must be {what}, got {value!r}")
    return value


def parse_meta(data: Any, path: Path | None = None) -> Meta:
    """Validate and parse a loaded ``meta.json`` dict. Raises :class:`DataError` naming the key."""
    where = path or Path("meta.json")
    if not isinstance(data, dict) or not isinstance(data.get("videos"), dict):
        raise DataError(f"{where}: expected a JSON object with a 'videos' mapping (MOSE / YouTube-VOS meta.json)")
    videos: dict[str, VideoMeta] = {}
    forms: set[str] = set()
    for vid, entry in data["videos"].items():
        # video names become folder names (pred_dir / video, zip entries): no '..', '/', ...
        check_name(vid, what=f"{where}: video", fix="fix the meta (wrong file?)", error=DataError)
        if not isinstance(entry, dict):
            raise DataError(f"{where}: videos.{vid} must be an object")
        raw_objects = entry.get("objects")
        if not isinstance(raw_objects, dict):
            raise DataError(f"{where}: videos.{vid}.objects is missing or not an object of id -> info")
        objects: dict[int, ObjectMeta] = {}
        for key, info in raw_objects.items():
            try:
                oid = int(key)
            except (TypeError, ValueError):
                raise DataError(f"{where}: videos.{vid}.objects key {key!r} is not an integer object id") from None
            if not 1 <= oid <= 255:
                raise DataError(f"{where}: videos.{vid}.objects id {oid} outside 1..255 (palette PNG values)")
            info = info if isinstance(info, dict) else {}
            frames = info.get("frames")
            if frames is not None:
                if not isinstance(frames, list) or not all(isinstance(f, str) for f in frames):
                    raise DataError(f"{where}: videos.{vid}.objects.{key}.frames must be a list of frame names")
                frames = tuple(frames)
                forms.add("youtube")
            else:
                forms.add("mose")
            category = info.get("category")
            objects[oid] = ObjectMeta(oid, str(category) if category is not None else None, frames)
        videos[str(vid)] = VideoMeta(
            name=str(vid),
            objects=dict(sorted(objects.items())),
            length=_int_field(where, vid, entry, "length"),
            height=_int_field(where, vid, entry, "height", low=1),
            width=_int_field(where, vid, entry, "width", low=1),
        )
    if len(forms) > 1:
        raise DataError(f"{where}: some objects list their 'frames' (YouTube-VOS form) and some do not; "
                        "use one form for the whole file")
    return Meta(path=path, videos=dict(sorted(videos.items())), form=forms.pop() if forms else "mose")


def load_meta(path: str | os.PathLike) -> Meta:
    """Read and validate ``meta.json``."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"meta file {path} is a folder, not a file; pass the dataset's meta.json (--meta)")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"meta file {path} does not exist; pass the dataset's meta.json (--meta)") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"meta file {path} is not UTF-8 text ({exc}); it is not a meta.json, or it is "
                        "corrupt: re-download it") from None
    except OSError as exc:
        raise DataError(f"meta file {path} cannot be read ({exc.strerror or exc}); check it") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"meta file {path} is not valid JSON ({exc}); re-download it") from None
    return parse_meta(data, path)


def _no_duplicate_keys(path: Path):
    """A JSON object hook refusing a key given twice (json keeps the last silently: a video listed
    twice would lose one of its entries)."""
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise DataError(f"meta file {path}: key {k!r} appears twice in one object (e.g. a video listed "
                                "twice); keep one entry")
            out[k] = v
        return out

    return hook


def dump_meta_json(data: Mapping[str, Any]) -> bytes:
    """Deterministic JSON bytes (sorted keys, fixed separators) for meta/attribute files."""
    return (json.dumps(data, sort_keys=True, indent=1) + "\n").encode("utf-8")
