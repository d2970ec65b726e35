"""check-predictions and pack: validation rules, problems listed with paths, atomic zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.cli import main
from harness.data import open_dataset
from harness.data.masks import write_label_png
from harness.data.meta import load_meta
from harness.data.submission import pack, validate_predictions
from harness.data.writer import PredictionWriter
from harness.errors import DataError


def write_gt_as_predictions(data: Path, out: Path, *, every_frame: bool = True) -> Path:
    """Predictions = ground truth on annotated frames, previous GT carried to the others."""
    for v in open_dataset(data):
        last = None
        with PredictionWriter(out, v) as w:
            for i in range(len(v)):
                if v.is_annotated(i):
                    last = v.gt(i)
                if every_frame or v.is_annotated(i):
                    w.write(i, last)
    return out


@pytest.fixture
def preds(synth_data: Path, tmp_path: Path) -> Path:
    return write_gt_as_predictions(synth_data, tmp_path / "pred")


def test_valid_predictions_pass_and_pack(synth_data: Path, preds: Path, tmp_path: Path, capsys) -> None:
    meta = synth_data / "meta.json"
    assert main(["check-predictions", str(preds), "--meta", str(meta)]) == 0
    assert "OK (3 videos, 36 frames checked)" in capsys.readouterr().out
    assert main(["check-predictions", str(preds), "--data", str(synth_data)]) == 0
    out = tmp_path / "sub" / "submission.zip"
    assert main(["pack", str(preds), "--meta", str(meta), "-o", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names[0] == "synth000/00000.png" and len(names) == 36
        assert {n.split("/")[0] for n in names} == {"synth000", "synth001", "synth002"}
        assert zf.read("synth001/00005.png") == (preds / "synth001" / "00005.png").read_bytes()
    first = out.read_bytes()
    pack(preds, load_meta(meta), out)
    assert out.read_bytes() == first  # deterministic zip
    assert [p.name for p in out.parent.iterdir()] == ["submission.zip"]  # no temp left


def test_sparse_annotation_frame_rules(make_synth, tmp_path: Path) -> None:
    data = make_synth(videos=1, frames=11, annotate_every=5)
    ds = open_dataset(data)
    full = write_gt_as_predictions(data, tmp_path / "full")
    report, files = validate_predictions(full, ds.meta, dataset=ds)
    assert report.ok and report.frames_checked == 11
    out = tmp_path / "gt_frames.zip"
    pack(full, ds.meta, out, dataset=ds, frames="annotated")
    assert zipfile.ZipFile(out).namelist() == [f"synth000/{n:05d}.png" for n in (0, 5, 10)]
    assert main(["pack", str(full), "--data", str(data), "-o", str(tmp_path / "auto.zip")]) == 0
    assert zipfile.ZipFile(tmp_path / "auto.zip").namelist() == zipfile.ZipFile(out).namelist()  # auto = GT frames
    sparse = write_gt_as_predictions(data, tmp_path / "sparse", every_frame=False)
    report, _ = validate_predictions(sparse, ds.meta, dataset=ds)  # all frames due with --data
    assert not report.ok and report.total_problems == 4  # 3 frames named + "5 more missing"
    assert "00001.png: missing frame" in report.problems[0]
    assert validate_predictions(sparse, ds.meta, dataset=ds, frames="annotated")[0].ok
    assert validate_predictions(sparse, ds.meta)[0].ok  # MOSE meta alone: `length` (= 3) PNGs due
    # MOSE meta alone cannot tell which of the 11 PNGs are the GT frames: packing them would be scored
    # by position against the wrong frames, so pack refuses and points at --data
    with pytest.raises(DataError, match=r"synth000: 11 PNGs but meta.json has 3 ground-truth frames.*--data"):
        pack(full, ds.meta, tmp_path / "meta_only.zip")
    assert not (tmp_path / "meta_only.zip").exists()
    pack(sparse, ds.meta, tmp_path / "meta_only.zip")  # exactly the GT frames: fine


def test_every_problem_is_reported_with_paths(synth_data: Path, preds: Path, tmp_path: Path, capsys) -> None:
    (preds / "synth000" / "00004.png").unlink()  # missing frame
    Image.fromarray(np.zeros((96, 128, 3), np.uint8)).save(preds / "synth000" / "00005.png")  # RGB
    write_label_png(preds / "synth001" / "00001.png", np.zeros((50, 50), np.uint8))  # wrong size
    bad_ids = np.zeros((96, 128), np.uint8)
    bad_ids[0, 0] = 99
    write_label_png(preds / "synth001" / "00002.png", bad_ids)  # unknown object id
    (preds / "synth001" / "00003.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # corrupt
    (preds / "synth002").rename(preds / "renamed")  # missing video + stray folder
    out = tmp_path / "submission.zip"
    assert main(["pack", str(preds), "--meta", str(synth_data / "meta.json"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert not out.exists()  # nothing written when validation fails
    for needle in ("synth000: 11 PNGs but meta.json promises 12 frames", "synth000/00005.png: mode RGB",
                   "synth001/00001.png: size 50x50", "synth001/00002.png: object id(s) [99]",
                   "synth001/00003.png: unreadable", "synth002: missing video folder",
                   "renamed: video folder not in the meta"):
        assert needle in err, needle
    # the hole is also named by its neighbours (the count alone misses it when extra frames are there)
    assert "synth000: frame(s) missing: 00003.png is followed by 00005.png" in err
    assert "8 problem(s)" in err
    assert main(["check-predictions", str(preds), "--meta", str(synth_data / "meta.json"),
                 "--max-problems", "2"]) == 2
    assert "... and 6 more" in capsys.readouterr().err
    # With the dataset, the frames due are known by name.
    assert main(["check-predictions", str(preds), "--data", str(synth_data)]) == 2
    assert "synth000/00004.png: missing frame" in capsys.readouterr().err


def test_pred_dir_that_is_one_video_folder(synth_data: Path, preds: Path, tmp_path: Path, capsys) -> None:
    meta = str(synth_data / "meta.json")
    assert main(["pack", str(preds / "synth000"), "--meta", meta, "-o", str(tmp_path / "s.zip")]) == 2
    assert "looks like one video's folder; pass its parent" in capsys.readouterr().err
    assert not (tmp_path / "s.zip").exists()
    assert main(["check-predictions", str(preds / "synth000"), "--meta", meta]) == 2
    assert "synth000 holds frame PNGs" in capsys.readouterr().err


def test_pack_output_that_is_a_folder(synth_data: Path, preds: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "zips").mkdir()
    assert main(["pack", str(preds), "--meta", str(synth_data / "meta.json"), "-o", str(tmp_path / "zips")]) == 2
    assert "is a folder; -o takes the zip file" in capsys.readouterr().err
    assert list((tmp_path / "zips").iterdir()) == []


def test_needs_meta_or_data(preds: Path, tmp_path: Path, capsys) -> None:
    assert main(["check-predictions", str(preds)]) == 2
    assert "--meta" in capsys.readouterr().err
    assert main(["check-predictions", str(tmp_path / "nope"), "--meta", str(tmp_path / "meta.json")]) == 2
    with pytest.raises(DataError, match="does not exist"):
        validate_predictions(tmp_path / "nope", load_meta(json_meta(tmp_path)))


def json_meta(tmp_path: Path) -> Path:
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"videos": {}}))
    return p


def test_youtube_meta_lists_frames_due(tmp_path: Path) -> None:
    from harness.data.meta import parse_meta

    meta = parse_meta({"videos": {"v": {"height": 8, "width": 8, "objects": {
        "1": {"frames": ["00000", "00005"]}, "2": {"frames": ["00005", "00010"]}}}}})
    for stem in ("00000", "00010"):
        write_label_png(tmp_path / "p" / "v" / f"{stem}.png", np.ones((8, 8), np.uint8))
    report, files = validate_predictions(tmp_path / "p", meta)
    assert report.problems == (f"{tmp_path / 'p' / 'v' / '00005.png'}: missing frame",)
    assert [f.name for f in files] == ["00000.png", "00010.png"]
