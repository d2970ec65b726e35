"""Files and names: written files respect the umask (B8); names never become paths outside their folder
(B14 `pack --meta` with a video named `..`, B25 run ids)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from _bad_input_cli import mosebench, refused

from harness.errors import ConfigError, DataError
from harness.names import check_name


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_run_outputs_respect_the_umask(tmp_path: Path, umask: int) -> None:
    """B8: every file written through harness/atomic.py was 0600 whatever the umask."""
    res = mosebench("run", "experiment=smoke", f"results={tmp_path / 'res'}", f"dataset.root={tmp_path / 'data'}",
                    "run_id=r", cwd=tmp_path, umask=umask)
    assert res.rc == 0, res.err
    run = tmp_path / "res" / "runs" / "smoke" / "r"
    files = [run / "config.yaml", run / "plan.json", *run.glob("*/summary.json"), *run.glob("*/records/*.json"),
             *run.glob("*/predictions/*/*.png"), *run.glob("*/scores/*")]
    assert len(files) > 10
    want = 0o666 & ~umask
    modes = {str(p.relative_to(run)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.is_file()}
    assert set(modes.values()) == {oct(want)}, modes


def test_atomic_write_mode_in_process(tmp_path: Path) -> None:
    from harness.atomic import atomic_write_bytes

    old = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o640


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/abs/dir", "../x", "a\\b", "a\x00b"])
def test_check_name_refuses_paths(name: str) -> None:
    with pytest.raises(ConfigError, match="one plain name"):
        check_name(name, what="video")
    with pytest.raises(DataError):
        check_name(name, what="video", error=DataError)


@pytest.mark.parametrize("name", ["synth000", "vidéo 0 ☃", "two  spaces ", "-rf\nx", ".hidden", "a..b"])
def test_check_name_accepts_odd_but_safe_names(name: str) -> None:
    assert check_name(name, what="video") == name


@pytest.fixture
def preds(tmp_path: Path, make_synth) -> tuple[Path, Path]:
    """(dataset root, predictions folder = a copy of its ground truth) inside tmp_path/work."""
    data = make_synth(videos=2, frames=4, size=(48, 64))
    work = tmp_path / "work"
    (work / "secret").mkdir(parents=True)
    shutil.copy(data / "Annotations" / "synth000" / "00000.png", work / "00000.png")  # outside preds
    shutil.copytree(data / "Annotations", work / "preds")
    return data, work


@pytest.mark.parametrize("bad", ["..", "/abs/dir", "../x", "a/b", ""])
def test_pack_meta_with_a_path_as_video_name_is_refused(preds: tuple[Path, Path], bad: str) -> None:
    """B14: a meta listing video `..` packed the parent folder's PNGs as zip entries `../00000.png`
    (exit 0); `/abs/dir` or `../x` read outside the prediction folder, then crashed with a KeyError."""
    data, work = preds
    meta = json.loads((data / "meta.json").read_text())
    meta["videos"][bad] = meta["videos"]["synth000"]
    (work / "meta_bad.json").write_text(json.dumps(meta))
    for cmd in (["pack", "preds", "--meta", "meta_bad.json", "-o", "m.zip"],
                ["check-predictions", "preds", "--meta", "meta_bad.json"]):
        res = mosebench(*cmd, cwd=work)
        refused(res, "meta_bad.json", repr(bad))
    assert not (work / "m.zip").exists()
    assert not list(work.glob(".m.zip*"))


def test_pack_zip_entries_stay_inside(preds: tuple[Path, Path]) -> None:
    data, work = preds
    res = mosebench("pack", "preds", "--meta", str(data / "meta.json"), "-o", "ok.zip", cwd=work)
    assert res.rc == 0, res.err
    names = zipfile.ZipFile(work / "ok.zip").namelist()
    assert names and all(n.count("/") == 1 and not n.startswith(("/", "..")) for n in names)
