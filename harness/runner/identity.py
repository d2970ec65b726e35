"""Which code and which data make a cell's numbers: typed, cheap fingerprints compared on every
rerun, resume and shard start, stored in every per-video record and tagged on every MLflow run.

Code (:class:`CodeIdentity`): the git commit of the mosebench source tree and a hash of the
uncommitted changes to its tracked Python files; the SHA-1 of the method's adapter module and of every
``--plugin`` file; the versions of the method's packages (its adapter's distribution, its
``requires``, mosebench); size and mtime of every file a method option names (a checkpoint).

Data (:class:`DataIdentity`): the SHA-1 of the meta file and of ``attributes.json``, and per
planned video a hash of its frame and annotation files' names, sizes and mtimes (``stat`` only,
nothing is decoded: seconds for all of MOSEv2).

Nothing here imports torch, sam2 or mlflow.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, is_dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.errors import DataError

Pairs = tuple[tuple[str, str], ...]


class IdentityChanged(DataError):
    """The code or data of a run differ from what made its predictions (exit status 2)."""


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def file_sha1(path: str | os.PathLike) -> str:
    """SHA-1 of a file's bytes, or ``"missing"``."""
    try:
        return _sha1(Path(path).read_bytes())
    except OSError:
        return "missing"


def _pairs(obj: Any) -> Pairs:
    return tuple((str(a), str(b)) for a, b in (obj.items() if isinstance(obj, Mapping) else obj or ()))


@dataclass(frozen=True)
class CodeIdentity:
    """The code that predicts one method's videos (all fields are strings or (key, value) pairs)."""

    commit: str  # git HEAD of the mosebench tree, "unknown" outside git
    diff: str  # SHA-1 of `git diff HEAD -- *.py` (tracked Python files), "" when clean
    sources: Pairs  # (adapter module file or --plugin file, SHA-1)
    packages: Pairs  # (distribution, version)
    files: Pairs  # (method option, "size=N mtime_ns=T") of files the method's options name

    @property
    def digest(self) -> str:
        return _sha1(repr(astuple_sorted(self)).encode())

    def changes(self, new: CodeIdentity) -> list[str]:
        """What differs from ``new``, in words (empty when nothing does)."""
        out = []
        if self.commit != new.commit:
            out.append(f"git commit {self.commit[:12]} -> {new.commit[:12]}")
        if self.diff != new.diff:
            out.append(f"uncommitted changes to tracked Python files "
                       f"({self.diff[:8] or 'none'} -> {new.diff[:8] or 'none'})")
        out += _pair_changes("source file", self.sources, new.sources)
        out += _pair_changes("package", self.packages, new.packages)
        out += _pair_changes("file of option", self.files, new.files)
        return out


@dataclass(frozen=True)
class DataIdentity:
    """The data one cell reads: its meta, attributes and the files of each planned video."""

    root: str
    meta: str  # SHA-1 of the meta file ("" when the dataset has none)
    attributes: str  # SHA-1 of attributes.json ("" when absent)
    videos: Pairs  # (video, SHA-1 of its files' names, sizes, mtimes)

    @property
    def digest(self) -> str:
        return _sha1(repr(astuple_sorted(self)).encode())

    def video(self, name: str) -> str | None:
        return dict(self.videos).get(name)

    def changes(self, new: DataIdentity) -> list[str]:
        out = []
        if self.root != new.root:
            out.append(f"dataset root {self.root} -> {new.root}")
        if self.meta != new.meta:
            out.append("meta file content")
        if self.attributes != new.attributes:
            out.append("attributes.json content")
        old, cur = dict(self.videos), dict(new.videos)
        changed = sorted(v for v in old.keys() & cur.keys() if old[v] != cur[v])
        if changed:
            out.append(f"files (names, sizes or mtimes) of {len(changed)} of {len(old)} video(s): "
                       f"{', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}")
        if old.keys() != cur.keys():
            gone, added = sorted(old.keys() - cur.keys()), sorted(cur.keys() - old.keys())
            out.append("planned videos" + (f", no longer: {', '.join(gone[:5])}" if gone else "")
                       + (f", new: {', '.join(added[:5])}" if added else ""))
        return out


@dataclass(frozen=True)
class CellIdentity:
    """Code and data of one cell; what `plan.json` stores per cell and MLflow tags carry."""

    code: CodeIdentity
    data: DataIdentity

    def changes(self, new: CellIdentity) -> list[str]:
        return [f"code: {c}" for c in self.code.changes(new.code)] + [f"data: {c}" for c in self.data.changes(new.data)]

    def to_json(self) -> dict:
        return {"code": asdict(self.code), "data": asdict(self.data),
                "code_digest": self.code.digest, "data_digest": self.data.digest}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CellIdentity:
        c, d = doc["code"], doc["data"]
        return cls(CodeIdentity(str(c["commit"]), str(c["diff"]), _pairs(c["sources"]), _pairs(c["packages"]),
                                _pairs(c["files"])),
                   DataIdentity(str(d["root"]), str(d["meta"]), str(d["attributes"]), _pairs(d["videos"])))

    def tags(self) -> dict[str, str]:
        """MLflow tags: the same identity, readable in the UI (values <= 5000 characters)."""
        code, data = self.code, self.data
        tags = {
            "mosebench.code": code.digest[:12], "mosebench.data": data.digest[:12],
            "git_commit": code.commit, "git_diff": code.diff or "clean",
            "mosebench.sources": ", ".join(f"{Path(f).name}={h[:12]}" for f, h in code.sources),
            "mosebench.packages": ", ".join(f"{p}=={v}" for p, v in code.packages),
            "mosebench.option_files": ", ".join(f"{k}: {v}" for k, v in code.files) or "none",
            "mosebench.data_root": data.root, "mosebench.data_meta": data.meta[:12] or "none",
            "mosebench.data_videos": str(len(data.videos)),
        }
        return {k: v[:5000] for k, v in tags.items()}


def astuple_sorted(obj: Any) -> tuple:
    return tuple((f.name, getattr(obj, f.name)) for f in fields(obj))


def _pair_changes(what: str, old: Pairs, new: Pairs) -> list[str]:
    a, b = dict(old), dict(new)
    out = [f"{what} {k}: {a.get(k, 'absent')[:16]} -> {b.get(k, 'absent')[:16]}"
           for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    return out


# -- code ------------------------------------------------------------------------------------------

def git_state(src: str | os.PathLike | None = None) -> tuple[str, str]:
    """(HEAD commit or "unknown", SHA-1 of `git diff HEAD` of the tracked Python files or "") of
    the mosebench source tree. Only ``*.py`` changes count: an edited README cannot change a number,
    and would otherwise fail every shard still queued."""
    src = Path(src) if src else Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True,
                             timeout=30).stdout.strip()
        if not sha:
            return "unknown", ""
        diff = subprocess.run(["git", "diff", "HEAD", "--no-ext-diff", "--no-color", "--", "*.py"], cwd=src,
                              capture_output=True, timeout=60).stdout
        return sha, _sha1(diff) if diff else ""
    except (OSError, subprocess.SubprocessError):
        return "unknown", ""


@lru_cache(maxsize=1)
@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    # one scan of every installed distribution's file list per process (~0.3-1 s), not one per method
    from importlib import metadata

    return dict(metadata.packages_distributions())


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def method_packages(cls: type) -> Pairs:
    """(distribution, version) of mosebench, of the package the adapter comes from and of the
    modules the method ``requires``."""
    tops = {cls.__module__.split(".")[0], *(m.split(".")[0] for m in getattr(cls, "requires", {}) or {})}
    dists = {"mosebench"}
    for top in tops:
        dists.update(_distributions().get(top, []))
    return tuple((d, _version(d)) for d in sorted(dists))


def _class_file(cls: type) -> str | None:
    try:
        return inspect.getfile(cls)
    except (TypeError, OSError):
        return None


def plugin_file(plugin: str) -> str | None:
    """The file a ``--plugin`` value names: the ``.py`` path itself, or the module's source."""
    if plugin.endswith(".py"):
        return str(Path(plugin).expanduser())
    from importlib.util import find_spec

    try:
        spec = find_spec(plugin)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def file_stamp(path: str | os.PathLike) -> str:
    st = Path(path).stat()
    return f"size={st.st_size} mtime_ns={st.st_mtime_ns}"


def option_files(typed_cfg: Any) -> Pairs:
    """(option, size+mtime) of each option of a method config whose value names an existing file."""
    if typed_cfg is None or not is_dataclass(typed_cfg):
        return ()
    out = []
    for key, value in sorted(asdict(typed_cfg).items()):
        if isinstance(value, str) and value and Path(value).expanduser().is_file():
            out.append((key, file_stamp(Path(value).expanduser())))
    return tuple(out)


def code_identity(cls: type, typed_cfg: Any, plugins: Iterable[str], git: tuple[str, str]) -> CodeIdentity:
    """The :class:`CodeIdentity` of method class ``cls`` configured by ``typed_cfg``; ``git`` from
    :func:`git_state` (computed once per process step, it runs two subprocesses)."""
    sources = {}  # absolute paths: a shard anchored elsewhere names the same files the same way
    for p in plugins:
        f = plugin_file(p)
        sources[str(Path(f).resolve()) if f else p] = file_sha1(f) if f else "unresolved"
    f = _class_file(cls)
    if f:
        sources[str(Path(f).resolve())] = file_sha1(f)
    return CodeIdentity(git[0], git[1], tuple(sorted(sources.items())), method_packages(cls), option_files(typed_cfg))


# -- data ------------------------------------------------------------------------------------------

def _listing(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as it:
            entries = [(e.name, _stat_line(e)) for e in it if not e.name.startswith(".")]
    except FileNotFoundError:
        return ["(absent)"]
    return [f"{n} {line}" for n, line in sorted(entries)]


def _stat_line(entry: os.DirEntry) -> str:
    # an unreadable entry (a symlink loop, a dangling link) is part of the data as it is: the video
    # that needs it fails with its own clear error when it is read, the others still run
    try:
        st = entry.stat()
    except OSError as exc:
        return f"unreadable errno {exc.errno}"
    return f"{st.st_size} {st.st_mtime_ns}"


def video_fingerprint(dataset: Any, video: str) -> str:
    """SHA-1 of the names, sizes and mtimes of a video's frame and annotation files (no decoding).
    ``dataset``: a :class:`harness.data.dataset.Dataset` (``image_root``, ``ann_root``)."""
    lines = ["images", *_listing(Path(dataset.image_root) / video), "annotations",
             *_listing(Path(dataset.ann_root) / video)]
    return _sha1("\n".join(lines).encode())


def data_identity(dataset: Any, videos: Iterable[str]) -> DataIdentity:
    meta = file_sha1(dataset.meta_path) if getattr(dataset, "meta_path", None) else ""
    attrs = Path(dataset.root) / "attributes.json"
    return DataIdentity(str(Path(dataset.root).resolve()), meta, file_sha1(attrs) if attrs.is_file() else "",
                        tuple((v, video_fingerprint(dataset, v)) for v in videos))
