"""Bad datasets, run through the CLI as a user would: a clear message naming the file, exit status 2,
nothing started and no output left behind; and no silently wrong numbers.

Regressions for the reliability trial's B4, B9, B10, B11, B15, B22, B23, B24, B25 (meta) and B26.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from _bad_input_cli import mosebench, refused

from harness.data.masks import read_label_png, write_label_png


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.data.synth import generate

    return generate(tmp_path_factory.mktemp("bad") / "base", videos=2, frames=8, size=(48, 64), seed=3)


@pytest.fixture
def case(base: Path, tmp_path: Path):
    """``case(name) -> Path``: a fresh copy of the base dataset under tmp_path to damage."""
    def make(name: str = "data") -> Path:
        out = tmp_path / name
        shutil.copytree(base, out, symlinks=True)
        return out
    return make


def _meta(root: Path, edit) -> None:
    d = json.loads((root / "meta.json").read_text())
    edit(d)
    (root / "meta.json").write_text(json.dumps(d))


def _run(root: Path, *extra: str):
    return mosebench("run", "experiment=smoke", "dataset=synth", f"dataset.root={root}",
                     f"results={root.parent / 'res'}", *extra, cwd=root.parent)


def _score(root: Path, meta: Path | None = None):
    return mosebench("score", "--meta", str(meta or root / "meta.json"), "--gt", str(root / "Annotations"),
                     "--pred", str(root / "Annotations"), "--out", str(root.parent / "out"), "--jobs", "1",
                     cwd=root.parent)


def _no_output(root: Path) -> None:
    assert not (root.parent / "res").exists(), "run left a results folder"
    assert not (root.parent / "out").exists(), "score left an output folder"


@pytest.mark.parametrize("how", ["missing", "folder"])
def test_mose_layout_without_a_meta_is_refused(case, how: str) -> None:
    """B4: without a usable meta.json, check-data said OK and run scored first-frame objects only (rc 0)."""
    root = case()
    (root / "meta.json").unlink()
    if how == "folder":
        (root / "meta.json").mkdir()
    frag = "meta.json does not exist" if how == "missing" else "is a folder, not a file"
    refused(mosebench("check-data", str(root), cwd=root.parent), frag)
    refused(_run(root), frag)
    _no_output(root)


def test_meta_that_is_not_utf8(case) -> None:
    """B9: a UnicodeDecodeError traceback in every command."""
    root = case()
    (root / "meta.json").write_bytes(b"\xff\xfe\x00garbage")
    for res in (mosebench("check-data", str(root), cwd=root.parent), _run(root), _score(root),
                mosebench("pack", str(root / "Annotations"), "--meta", str(root / "meta.json"), "-o",
                          str(root.parent / "x.zip"), cwd=root.parent)):
        refused(res, "meta.json is not UTF-8")
    _no_output(root)
    assert not (root.parent / "x.zip").exists()


def test_score_meta_pointing_at_a_folder(case) -> None:
    """B11: IsADirectoryError traceback."""
    root = case()
    refused(_score(root, meta=root / "Annotations"), "is a folder, not a file")
    _no_output(root)


@pytest.mark.parametrize("how", ["folder", "symlink-loop"])
def test_frame_that_cannot_be_read(case, how: str) -> None:
    """B10: IsADirectoryError / ELOOP tracebacks aborted `check-data --decode-frames` (no other problem
    listed); in `run` the video failed with an OSError."""
    root = case()
    frame = root / "JPEGImages" / "synth001" / "00003.jpg"
    frame.unlink()
    if how == "folder":
        frame.mkdir()
    else:
        os.symlink(frame.name, frame)
    (root / "JPEGImages" / "synth000" / "00005.jpg").write_bytes(b"\xff\xd8 truncated")  # a second problem
    err = refused(mosebench("check-data", "--decode-frames", str(root), cwd=root.parent), "2 problem(s)",
                  "synth001/00003.jpg", "synth000/00005.jpg")
    assert ("is a folder" if how == "folder" else "symbolic links") in err
    res = _run(root, "method=flow")
    assert res.rc == 1 and "Traceback" not in res.out + res.err
    assert "synth001 failed: frame" in res.out and "00003.jpg" in res.out


def test_per_video_problems_are_found_before_any_work(case) -> None:
    """B23: gaps, stray files, empty folders, meta lengths were found only per video during the run
    (a partial run directory, each DataError twice as a full traceback, rc 1)."""
    root = case()
    (root / "JPEGImages" / "synth000" / "00004.jpg").unlink()
    (root / "Annotations" / "synth000" / "00004.png").unlink()
    _meta(root, lambda d: d["videos"]["synth001"].update(length=5))
    err = refused(_run(root), "2 video(s) cannot be used", "synth000: 00003 is followed by 00005",
                  "promises 5 ground-truth frames for video 'synth001'")
    assert err.count("\n  - ") == 2
    _no_output(root)


def test_stray_and_empty_video_folders_before_any_work(case) -> None:
    root = case()
    shutil.copy(root / "JPEGImages" / "synth000" / "00003.jpg", root / "JPEGImages" / "synth000" / "00003 copy.jpg")
    for p in (root / "JPEGImages" / "synth001").iterdir():
        p.unlink()
    refused(_run(root), "2 video(s) cannot be used", "00003 copy.jpg", "no .jpg frames")
    _no_output(root)


def test_results_that_is_a_file(tmp_path: Path) -> None:
    """B15: NotADirectoryError traceback from mkdir."""
    (tmp_path / "afile").write_text("x")
    for results in ("afile", "afile/sub"):
        refused(mosebench("run", "experiment=smoke", f"results={results}", cwd=tmp_path), f"results={results}",
                "which is a file" if "/" in results else "is a file")


def test_corrupt_run_config(case) -> None:
    """B15: a corrupt config.yaml made status and resume print a raw YAML parser traceback (rc 1)."""
    root = case()
    assert _run(root, "run_id=r").rc == 0
    run = root.parent / "res" / "runs" / "smoke" / "r"
    (run / "config.yaml").write_text("experiment: [unclosed\n")
    for cmd in ("status", "resume"):
        refused(mosebench(cmd, str(run), cwd=root.parent), "config.yaml is corrupt", "delete it")
    (run / "config.yaml").unlink()  # the advice works: the same run command rebuilds it
    assert _run(root, "run_id=r").rc == 0


@pytest.mark.parametrize("how", ["unknown-id", "no-objects"])
def test_gt_ids_missing_from_the_meta(case, how: str) -> None:
    """B22: `score` and `run` ignored GT ids the meta does not list (with pred = GT the warning blamed
    the prediction; `run` gave rc 0)."""
    root = case()
    if how == "unknown-id":
        png = root / "Annotations" / "synth001" / "00004.png"
        a = read_label_png(png)
        a[:4, :4] = 42
        write_label_png(png, a)
        frag = "[42]"
    else:
        _meta(root, lambda d: d["videos"]["synth001"].update(objects={}))
        frag = "synth001/00000.png contains object id(s)"
    refused(_score(root), frag, "that meta.json does not list")
    _no_output(root)
    res = _run(root)
    assert res.rc != 0 and "does not list" in res.out + res.err


def test_hidden_video_listed_in_the_meta(case) -> None:
    """B24: "JPEGImages/.hidden does not exist" (it exists; dot-names are skipped)."""
    root = case()
    for sub in ("JPEGImages", "Annotations"):
        (root / sub / "synth001").rename(root / sub / ".hidden")
    _meta(root, lambda d: d["videos"].update({".hidden": d["videos"].pop("synth001")}))
    refused(mosebench("check-data", str(root), cwd=root.parent), "'.hidden'", "is hidden", "rename")


def test_frame_with_another_extension(case) -> None:
    """B24: `00003.jpeg` among `.jpg` frames: "00003.jpg does not exist"."""
    root = case()
    d = root / "JPEGImages" / "synth001"
    (d / "00003.jpg").rename(d / "00003.jpeg")
    refused(mosebench("check-data", str(root), cwd=root.parent), "00003.jpeg has extension '.jpeg'")
    refused(_run(root), "00003.jpeg")
    _no_output(root)


def test_upper_case_png_is_named(case) -> None:
    """B24: a `.PNG` mask: "promises 8, has 7" without naming the ignored file."""
    root = case()
    d = root / "Annotations" / "synth000"
    (d / "00002.png").rename(d / "00002.PNG")
    refused(mosebench("check-data", str(root), cwd=root.parent), "00002.PNG", "upper-case")


def test_annotation_folder_without_video(case) -> None:
    """B24: an `Annotations/<v>` folder with no frames or meta entry passed check-data, then score failed."""
    root = case()
    shutil.copytree(root / "Annotations" / "synth000", root / "Annotations" / "orphan")
    refused(mosebench("check-data", str(root), cwd=root.parent), "Annotations/orphan", "remove the folder")


@pytest.mark.parametrize(("edit", "frag"), [
    (lambda d: d["videos"]["synth000"].update(height=0), "videos.synth000.height must be an integer >= 1"),
    (lambda d: d["videos"].update({"..": d["videos"]["synth000"]}), "video '..' is a relative path"),
])
def test_meta_values(case, edit, frag: str) -> None:
    """B25: meta `height: 0` was accepted by the parser; B14: a video named `..`."""
    root = case()
    _meta(root, edit)
    refused(mosebench("check-data", str(root), cwd=root.parent), frag)


def test_meta_listing_a_video_twice(case) -> None:
    """B25: a video listed twice in the meta kept only its last entry, silently."""
    root = case()
    text = (root / "meta.json").read_text()
    entry = json.dumps(json.loads(text)["videos"]["synth000"])
    (root / "meta.json").write_text(text.replace('"videos": {', f'"videos": {{"synth000": {entry}, ', 1))
    refused(mosebench("check-data", str(root), cwd=root.parent), "'synth000' appears twice")


def test_videos_with_fewer_than_three_gt_frames_are_named(tmp_path: Path) -> None:
    """B26: such videos score 0 (official behaviour, kept) and nothing said so."""
    from harness.data.synth import generate

    root = generate(tmp_path / "data", videos=2, frames=8, size=(48, 64), seed=3, annotate_every=8)
    res = _score(root)
    assert res.rc == 0, res.err
    assert "2 video(s) have fewer than 3 ground-truth frames" in res.out and "synth000, synth001" in res.out
    res = _run(root)
    assert res.rc == 0, res.err
    assert "fewer than 3 ground-truth frames" in res.out and "synth000, synth001" in res.out
