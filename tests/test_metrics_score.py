"""mosebench score end to end: outputs, parallel = serial, re-aggregation, compare, every error case."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.testdata import CaseSpec, generate_case

from harness.cli import main as cli_main
from harness.data.masks import write_label_png
from harness.errors import DataError
from harness.metrics.aggregate import object_table
from harness.metrics.report_files import load_per_frame
from harness.metrics.score import score

SPEC = CaseSpec(sizes=((40, 56), (33, 47), (40, 56)), frames=(9, 6, 3), seed=4)


@pytest.fixture()
def case(tmp_path) -> Path:
    return generate_case(tmp_path / "case", SPEC)


def _score(root: Path, out: Path, **kw):
    return score(root / "meta.json", root / "Annotations", root / "pred", out, **kw)


def test_outputs_and_parallel_equals_serial(case, tmp_path):
    s1 = _score(case, tmp_path / "o1", jobs=1)
    s2 = _score(case, tmp_path / "o2", jobs=2)
    assert s1 == s2
    for name in ("metrics.json", "scores.txt", "per_frame.parquet", "per_object.csv", "summary.json", "vot.json",
                 "attributes.csv", "attributes.md", "long_videos.json"):
        assert (tmp_path / "o1" / name).is_file(), name
    a = (tmp_path / "o1" / "per_frame.parquet").read_bytes()
    assert a == (tmp_path / "o2" / "per_frame.parquet").read_bytes()
    summary = json.loads((tmp_path / "o1" / "summary.json").read_text())
    assert summary["n_objects"] == s1.n_objects and summary["protocol"] == "mose"
    lo, hi = summary["ci"]["J"]
    assert lo <= s1.J <= hi
    assert s1.JF_hat == pytest.approx((s1.J + s1.F_hat) / 2)
    # no temp files left behind
    assert not [p for p in (tmp_path / "o1").iterdir() if p.name.startswith(".")]


def test_per_frame_table_reaggregates_without_pngs(case, tmp_path):
    _score(case, tmp_path / "o", jobs=1)
    table, infos, protocol = load_per_frame(tmp_path / "o" / "per_frame.parquet")
    shutil.rmtree(case)  # no PNG needed any more
    objects = object_table(table, infos, protocol)
    import pandas as pd

    saved = pd.read_csv(tmp_path / "o" / "per_object.csv")
    assert np.allclose(objects["J"].to_numpy(), saved["J"].to_numpy(), rtol=0, atol=1e-15)
    assert len(table) == sum((v.length - 2) * len(v.objects) for v in infos.values())


def test_three_frame_and_two_frame_videos(tmp_path):
    root = tmp_path / "d"
    gt3 = [np.zeros((10, 10), np.uint8) for _ in range(3)]
    gt3[1][2:4, 2:4] = 1                         # 4 pixels on the only scored frame
    for i, a in enumerate(gt3):
        write_label_png(root / "Annotations" / "a" / f"{i:05d}.png", a)
        write_label_png(root / "pred" / "a" / f"{i:05d}.png", np.zeros_like(a))
    for i in range(2):                            # 2 GT frames: nothing to score
        write_label_png(root / "Annotations" / "b" / f"{i:05d}.png", gt3[1])
        write_label_png(root / "pred" / "b" / f"{i:05d}.png", gt3[1])
    meta = {"videos": {v: {"length": n, "height": 10, "width": 10, "objects": {"1": {}}}
                       for v, n in (("a", 3), ("b", 2))}}
    (root / "meta.json").write_text(json.dumps(meta))
    _score(root, tmp_path / "o", jobs=1)
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    # one scored frame, empty prediction of a 4-pixel object: J = 1/5, F = F̂ = 0
    assert m["a_1"] == {"J&F_new": 10.0, "J": 20.0, "F_new": 0.0, "disappear_J&F_new": None,
                        "reappear_J&F_new": None, "F": 0.0, "J&F": 10.0}
    # like the official scorer, an object without scored frames counts as 0
    assert m["b_1"]["J"] == 0.0 and m["b_1"]["disappear_J&F_new"] is None


def test_missing_prediction_video_and_allow_missing(case, tmp_path):
    shutil.rmtree(case / "pred" / "v001")
    with pytest.raises(DataError, match=r"v001.*--allow-missing"):
        _score(case, tmp_path / "o")
    s = _score(case, tmp_path / "o", allow_missing=True, jobs=1)
    assert s.missing_videos == ("v001",) and s.n_missing == 4 * len(
        json.loads((case / "meta.json").read_text())["videos"]["v001"]["objects"])
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    # an empty prediction scores 0 on visible frames and 1 on absent ones; never a silent crash
    assert all(v["J"] is not None for k, v in m.items() if k.startswith("v001"))


def test_missing_frame(case, tmp_path):
    (case / "pred" / "v000" / "00004.png").unlink()
    with pytest.raises(DataError, match=r"1 frame\(s\) missing: v000/00004.png"):
        _score(case, tmp_path / "o")
    s = _score(case, tmp_path / "o", allow_missing=True, jobs=1)
    assert s.n_missing == len(json.loads((case / "meta.json").read_text())["videos"]["v000"]["objects"])


def test_wrong_size_prediction(case, tmp_path):
    write_label_png(case / "pred" / "v000" / "00003.png", np.zeros((20, 20), np.uint8))
    with pytest.raises(DataError, match=r"prediction .*v000/00003.png is 20x20 \(WxH\) but its frame is 56x40"):
        _score(case, tmp_path / "o", jobs=1)


def test_rgb_prediction(case, tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((40, 56, 3), np.uint8)).save(case / "pred" / "v000" / "00002.png")
    with pytest.raises(DataError, match=r"00002.png is a RGB image"):
        _score(case, tmp_path / "o", jobs=2)


def test_prediction_root_with_single_video(case, tmp_path):
    for v in ("v001", "v002"):
        shutil.rmtree(case / "pred" / v)
    with pytest.raises(DataError, match=r"holds a single video \('v000'\)"):
        _score(case, tmp_path / "o")
    s = _score(case, tmp_path / "o", videos=["v000"], jobs=1)   # explicit subset is fine
    assert s.n_objects == len(json.loads((case / "meta.json").read_text())["videos"]["v000"]["objects"])


def test_prediction_root_that_is_a_video_folder_or_empty(case, tmp_path):
    # --pred pointing at one video's own folder (PNGs directly) or at an empty folder is a wrong path:
    # refused even with --allow-missing, which would otherwise score every object as an empty mask
    empty = tmp_path / "empty"
    empty.mkdir()
    for pred, allow in ((case / "pred" / "v000", False), (case / "pred" / "v000", True), (empty, True)):
        with pytest.raises(DataError, match=r"holds none of the 3 video folder\(s\)"):
            score(case / "meta.json", case / "Annotations", pred, tmp_path / "o", allow_missing=allow)
        assert not (tmp_path / "o").exists()
    with pytest.raises(DataError, match=r"looks like one video's folder.*--videos v000"):
        score(case / "meta.json", case / "Annotations", case / "pred" / "v000", tmp_path / "o")


def test_bad_options_fail_before_any_output(case, tmp_path):
    from harness.errors import ConfigError

    bad = tmp_path / "attributes.json"
    bad.write_text('{"videos": {"v000": {"x": ["DR"]}}}')
    for attrs, match in ((tmp_path / "nope.json", "does not exist"), (bad, r"v000 key 'x' is not an object id")):
        with pytest.raises(DataError, match=match):
            _score(case, tmp_path / "o", jobs=1, attributes=attrs)
        assert not (tmp_path / "o").exists()   # checked before metrics.json & co. are written
    with pytest.raises(ConfigError, match="ci_samples"):
        _score(case, tmp_path / "o", jobs=1, ci_samples=0)
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="is a file"):
        _score(case, tmp_path / "file", jobs=1)
    with pytest.raises(DataError, match="cannot be created"):   # was a traceback after all the scoring
        _score(case, tmp_path / "file" / "sub", jobs=1)
    assert not (tmp_path / "o").exists()


def test_meta_video_without_ground_truth_folder(case, tmp_path):
    meta = json.loads((case / "meta.json").read_text())
    meta["videos"]["ghost"] = meta["videos"]["v000"]
    (case / "meta.json").write_text(json.dumps(meta))
    # its objects would silently leave the dataset mean
    with pytest.raises(DataError, match=r"lists 1 video\(s\) with no ground-truth folder .*ghost.*--videos"):
        _score(case, tmp_path / "o", jobs=1)
    assert not (tmp_path / "o").exists()
    assert _score(case, tmp_path / "o", jobs=1, videos=["v000", "v001", "v002"]).n_objects > 0


def test_prediction_root_wrapping_folder(case, tmp_path):
    wrapped = tmp_path / "sub"
    (wrapped).mkdir()
    shutil.move(str(case / "pred"), str(wrapped / "Annotations"))
    with pytest.raises(DataError, match=r"pass --pred .*Annotations"):
        score(case / "meta.json", case / "Annotations", wrapped, tmp_path / "o")


def test_meta_length_mismatch(case, tmp_path):
    meta = json.loads((case / "meta.json").read_text())
    meta["videos"]["v000"]["length"] = 99
    (case / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"v000.*length 99 but .* holds 9 PNGs"):
        _score(case, tmp_path / "o")


def test_cli_score_compare_and_exit_status(case, tmp_path, capsys):
    args = ["score", "--meta", str(case / "meta.json"), "--gt", str(case / "Annotations"), "--out"]
    assert cli_main(args + [str(tmp_path / "a"), "--pred", str(case / "pred"), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "Copy-Paste:" in printed and "95% CI (bootstrap over objects): JF_hat [" in printed
    # B = GT itself: a real improvement on every object
    assert cli_main(args + [str(tmp_path / "b"), "--pred", str(case / "Annotations"), "--jobs", "1"]) == 0
    out_json = tmp_path / "cmp.json"
    assert cli_main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--samples", "500",
                     "--out", str(out_json)]) == 0
    cmp = json.loads(out_json.read_text())
    assert cmp["J"]["mean_b"] == pytest.approx(100.0) and cmp["J"]["diff"] > 0 and cmp["J"]["ci_low"] > 0
    assert cli_main(args + [str(tmp_path / "c"), "--pred", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_compare_refuses_other_ground_truth_and_warns_on_subsets(case, tmp_path, capsys):
    args = ["score", "--meta", str(case / "meta.json"), "--gt", str(case / "Annotations"), "--jobs", "1"]
    assert cli_main(args + ["--out", str(tmp_path / "a"), "--pred", str(case / "pred")]) == 0
    assert cli_main(args + ["--out", str(tmp_path / "sub"), "--pred", str(case / "pred"), "--videos", "v000"]) == 0
    # same names and sizes, other seed: other GT masks -> a paired comparison would be meaningless
    other = generate_case(tmp_path / "other", CaseSpec(sizes=SPEC.sizes, frames=SPEC.frames, seed=SPEC.seed + 1))
    assert cli_main(["score", "--meta", str(other / "meta.json"), "--gt", str(other / "Annotations"), "--jobs", "1",
                     "--out", str(tmp_path / "o"), "--pred", str(other / "pred")]) == 0
    capsys.readouterr()
    assert cli_main(["compare", str(tmp_path / "a"), str(tmp_path / "o"), "--samples", "100"]) == 2
    err = capsys.readouterr().err
    assert "v00" in err and ("ground-truth mask has" in err or "different ground truth" in err)
    assert cli_main(["compare", str(tmp_path / "a"), str(tmp_path / "sub"), "--samples", "100"]) == 0
    assert "comparing only the" in capsys.readouterr().err


def test_rescore_into_same_folder_leaves_no_stale_files(case, tmp_path):
    out = tmp_path / "o"
    _score(case, out, jobs=1)
    score(None, case / "Annotations", case / "pred", out, protocol="davis", jobs=1)
    assert not (out / "attributes.csv").exists() and not (out / "long_videos.json").exists()
    assert json.loads((out / "summary.json").read_text())["protocol"] == "davis"
    _score(case, out, jobs=1)
    assert not (out / "global_results.csv").exists() and (out / "attributes.md").is_file()


def test_cli_warns_when_mose_scoring_has_no_meta(case, tmp_path, capsys):
    assert cli_main(["score", "--gt", str(case / "Annotations"), "--pred", str(case / "pred"),
                     "--out", str(tmp_path / "o"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "objects that appear later" in err and f"--meta {case / 'meta.json'}" in err


def test_davis_protocol_outputs(case, tmp_path):
    s = score(None, case / "Annotations", case / "pred", tmp_path / "o", protocol="davis", jobs=1)
    assert s.JF_hat is None and s.J_recall is not None and s.J_decay is not None
    text = (tmp_path / "o" / "global_results.csv").read_text().splitlines()
    assert text[0] == "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"
    assert (tmp_path / "o" / "scores.txt").read_text().startswith("J&F-Mean: ")


def test_fast_png_reader_equals_pillow_and_falls_back(tmp_path):
    from PIL import Image

    from harness.data.masks import read_label_png
    from harness.metrics.pngread import read_labels

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 6, (37, 53)).astype(np.uint8)
    write_label_png(tmp_path / "p.png", ids)                  # palette, unfiltered rows: fast path
    Image.fromarray(ids, "L").save(tmp_path / "l.png")        # greyscale, filtered rows: Pillow
    Image.fromarray(ids, "L").save(tmp_path / "l6.png", compress_level=9)
    for name in ("p.png", "l.png", "l6.png"):
        assert np.array_equal(read_labels(tmp_path / name), ids), name
        assert np.array_equal(read_labels(tmp_path / name), read_label_png(tmp_path / name))
    (tmp_path / "cut.png").write_bytes((tmp_path / "p.png").read_bytes()[:60])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_labels(tmp_path / "cut.png", what="prediction")
    with pytest.raises(DataError, match="is 53x37"):
        read_labels(tmp_path / "p.png", expect_size=(10, 10))


def test_fast_png_reader_checks_idat_crc(tmp_path):
    """The fast path skips zlib's Adler-32 pass, so it must check PNG's own CRC: a flipped bit in the
    compressed data goes to Pillow (which reports the damage), never silently into the scores."""
    from harness.metrics.pngread import _fast, read_labels

    ids = np.random.default_rng(1).integers(0, 4, (40, 64)).astype(np.uint8)
    write_label_png(tmp_path / "p.png", ids)
    data = (tmp_path / "p.png").read_bytes()
    assert np.array_equal(_fast(data), ids)
    at = data.index(b"IDAT") + 30                             # inside the deflate stream
    for bit in (0x01, 0x10, 0x80):
        bad = bytearray(data)
        bad[at] ^= bit
        assert _fast(bytes(bad)) is None, bit
        (tmp_path / "bad.png").write_bytes(bytes(bad))
        with pytest.raises(DataError, match="corrupt or truncated"):
            read_labels(tmp_path / "bad.png", what="prediction")
    # a damaged zlib header under a valid CRC: refused by the header check, also goes to Pillow
    import struct
    import zlib

    start = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[start - 4: start])
    hdr = bytearray(data)
    hdr[start + 4] ^= 0x01                                    # CMF byte: no longer deflate (CM != 8)
    hdr[start + 4 + length: start + 8 + length] = struct.pack(">I", zlib.crc32(bytes(hdr[start: start + 4 + length])))
    assert _fast(bytes(hdr)) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator settings")
def test_worker_init_keeps_frame_buffers_without_page_faults():
    """Scoring workers re-allocate frame-sized arrays every frame; with glibc's defaults each one comes
    back as fresh pages (page faults: a fifth of the CPU time on 720p sets). After the worker
    initializer the same pattern of allocations costs no new page faults."""
    code = """
import resource, sys
import numpy as np
from harness.metrics.score import _worker_init
if sys.argv[1] == "1":
    _worker_init()
def frame():
    live = [np.ones(n << 18, np.uint8) for n in (4, 12, 8, 3, 7)]  # 0.75-3 MB arrays, live together
    del live
frame()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    frame()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""
    faults = [int(subprocess.run([sys.executable, "-c", code, flag], capture_output=True, text=True, check=True,
                                 cwd=Path(__file__).resolve().parents[1]).stdout) for flag in ("0", "1")]
    assert faults[0] > 5000, faults     # the default allocator: thousands of page faults (else test is moot)
    assert faults[1] < 100, faults
