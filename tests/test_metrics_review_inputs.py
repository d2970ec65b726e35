"""Regression tests: LD / long videos count video frames; greyscale and foreign-id predictions are
counted and reported without changing any score; stray GT file names are named as such."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.testdata import CaseSpec, generate_case

from harness.cli import main as cli_main
from harness.data.masks import read_label_png, write_label_png
from harness.errors import DataError
from harness.metrics.aggregate import VideoInfo, object_table
from harness.metrics.attributes import derive_attributes, long_video_table
from harness.metrics.report_files import PARQUET_META_KEY, load_per_frame
from harness.metrics.score import score


@pytest.fixture
def sparse_long(make_synth) -> Path:
    """310 video frames annotated every 5th (+ the last): 63 GT frames, LD by the paper's rule."""
    return make_synth(videos=1, frames=10, size=(48, 64), seed=2, long_frames=310, annotate_every=5)


def _score_gt(root: Path, out: Path):
    return score(root / "meta.json", root / "Annotations", root / "Annotations", out, jobs=1, ci_samples=20)


def test_ld_and_long_table_count_video_frames_not_gt_frames(sparse_long, tmp_path):
    meta = json.loads((sparse_long / "meta.json").read_text())["videos"]
    assert meta["synthlong"]["length"] == 63  # GT frames: well under 300
    _score_gt(sparse_long, tmp_path / "o")
    long = json.loads((tmp_path / "o" / "long_videos.json").read_text())
    n_long_objects = len(meta["synthlong"]["objects"])
    assert long["n_videos"] == 1 and long["n_objects"] == n_long_objects
    table, infos, protocol = load_per_frame(tmp_path / "o" / "per_frame.parquet")
    assert infos["synthlong"].frames == 310 and infos["synthlong"].length == 63
    assert infos["synth000"].frames == 10
    # the attribute table and the long-video table agree (both from the stored video frames)
    derived = derive_attributes(table, infos)
    ld = {k for k, codes in derived.items() if "LD" in codes}
    assert ld == {("synthlong", int(o)) for o in meta["synthlong"]["objects"]}
    att = (tmp_path / "o" / "attributes.csv").read_text().splitlines()
    assert any(line.startswith(f"LD,True,{n_long_objects},") for line in att), att
    # re-aggregation from the parquet alone, without any PNG or JPEG
    shutil.rmtree(sparse_long)
    assert long_video_table(object_table(table, infos, protocol), infos)["n_videos"] == 1


def test_frame_count_falls_back_to_gt_name_span(sparse_long, tmp_path):
    shutil.rmtree(sparse_long / "JPEGImages")  # GT root without its JPEGImages sibling
    _score_gt(sparse_long, tmp_path / "o")
    _, infos, _ = load_per_frame(tmp_path / "o" / "per_frame.parquet")
    assert infos["synthlong"].frames == 310  # 00000 .. 00309
    assert json.loads((tmp_path / "o" / "long_videos.json").read_text())["n_videos"] == 1


def test_video_info_frames_rule_and_old_tables():
    assert VideoInfo((1,), 10, 10, 63, 310).video_frames == 310
    assert VideoInfo((1,), 10, 10, 301).video_frames == 301  # unknown: the GT count stands in
    import pandas as pd

    objects = pd.DataFrame({"video": ["a", "b"], "object": [1, 1], "J": [0.5, 0.7], "F_hat": [0.5, 0.7],
                            "J_d": [np.nan] * 2, "F_hat_d": [np.nan] * 2, "J_r": [np.nan] * 2,
                            "F_hat_r": [np.nan] * 2, "F": [0.5, 0.7]})
    infos = {"a": VideoInfo((1,), 10, 10, 61, 305), "b": VideoInfo((1,), 10, 10, 61, 300)}
    t = long_video_table(objects, infos)
    assert t["n_videos"] == 1 and t["JF_hat"] == pytest.approx(50.0)


def test_parquet_without_frames_still_loads(sparse_long, tmp_path):
    import pyarrow.parquet as pq

    _score_gt(sparse_long, tmp_path / "o")
    path = tmp_path / "o" / "per_frame.parquet"
    arrow = pq.read_table(path)
    extra = json.loads(arrow.schema.metadata[PARQUET_META_KEY])
    for v in extra["videos"].values():
        del v["frames"]  # as written before video frames were recorded
    pq.write_table(arrow.replace_schema_metadata({PARQUET_META_KEY: json.dumps(extra).encode()}), path)
    _, infos, _ = load_per_frame(path)
    assert infos["synthlong"].frames is None and infos["synthlong"].video_frames == 63
    # compare accepts an old table against a new one on the same ground truth
    _score_gt(sparse_long, tmp_path / "new")
    assert cli_main(["compare", str(tmp_path / "o"), str(tmp_path / "new"), "--samples", "50"]) == 0


SPEC = CaseSpec(sizes=((40, 56), (33, 47)), frames=(6, 5), seed=4)


def _as_greyscale(path: Path, values) -> None:
    ids = read_label_png(path)
    Image.fromarray(values(ids).astype(np.uint8), mode="L").save(path)


def test_greyscale_and_foreign_ids_are_counted_not_rescored(tmp_path, capsys):
    case = generate_case(tmp_path / "case", SPEC)
    pred = case / "pred"
    video = sorted(p.name for p in pred.iterdir())[0]
    frames = sorted(p.name for p in (pred / video).iterdir())
    binary, same_ids = pred / video / frames[1], pred / video / frames[2]
    # what the official scorer does with them: 0/255 -> id 255, no object -> empty; L with ids -> ids
    ref = tmp_path / "ref"
    shutil.copytree(pred, ref)
    write_label_png(ref / video / frames[1], np.zeros_like(read_label_png(binary)))
    _as_greyscale(binary, lambda ids: np.where(ids > 0, 255, 0))
    _as_greyscale(same_ids, lambda ids: ids)

    out = tmp_path / "o"
    assert cli_main(["score", "--meta", str(case / "meta.json"), "--gt", str(case / "Annotations"), "--pred",
                     str(pred), "--out", str(out), "--jobs", "1", "--ci-samples", "20"]) == 0
    err = capsys.readouterr().err
    assert "2 prediction frame(s) are greyscale (mode L)" in err
    assert "1 prediction frame(s) hold object id(s) [255]" in err and f"{video}/{frames[1][:-4]}" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pred_warnings"]["greyscale_frames"] == 2
    assert summary["pred_warnings"]["unknown_id_frames"] == 1 and summary["pred_warnings"]["unknown_ids"] == [255]

    expected = score(case / "meta.json", case / "Annotations", ref, tmp_path / "oref", jobs=1, ci_samples=20)
    assert (out / "metrics.json").read_text() == (tmp_path / "oref" / "metrics.json").read_text()
    assert summary["JF_hat"] == expected.JF_hat
    assert expected.pred_warnings["greyscale_frames"] == 0 and expected.pred_warnings["unknown_id_frames"] == 0
    # the worker pool reports the same counts
    assert score(case / "meta.json", case / "Annotations", pred, tmp_path / "o2", jobs=2,
                 ci_samples=20).pred_warnings == summary["pred_warnings"]


def test_clean_predictions_print_no_warning(tmp_path, capsys):
    case = generate_case(tmp_path / "case", SPEC)
    assert cli_main(["score", "--meta", str(case / "meta.json"), "--gt", str(case / "Annotations"), "--pred",
                     str(case / "pred"), "--out", str(tmp_path / "o"), "--jobs", "1", "--ci-samples", "20"]) == 0
    assert "WARNING" not in capsys.readouterr().err


def test_stray_ground_truth_png_named_as_stray(tmp_path, capsys):
    case = generate_case(tmp_path / "case", SPEC)
    folder = case / "Annotations" / sorted(p.name for p in (case / "Annotations").iterdir())[0]
    first = sorted(folder.iterdir())[0]
    shutil.copy(first, folder / f"{first.stem} copy.png")
    with pytest.raises(DataError, match=r"copy\.png \(1 such file\(s\)\) is a stray file.*remove or rename"):
        score(case / "meta.json", case / "Annotations", case / "pred", tmp_path / "o", jobs=1)
    assert not (tmp_path / "o").exists()
