"""Regression tests: holes in prediction numbering under a MOSE meta, stray GT file names, and an
unwritable `synth` output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.data import open_dataset
from harness.data.dataset import find_gap
from harness.data.submission import validate_predictions
from harness.data.synth import generate
from harness.data.writer import PredictionWriter
from harness.errors import DataError


def _every_frame_predictions(data: Path, out: Path) -> Path:
    for v in open_dataset(data):
        last = None
        with PredictionWriter(out, v) as w:
            for i in range(len(v)):
                if v.is_annotated(i):
                    last = v.gt(i)
                w.write(i, last)
    return out


def test_find_gap_rule() -> None:
    assert find_gap(["00000", "00001", "00003", "00004"]) == ("00001", "00003", 1)
    assert find_gap(["00000", "00005", "00015", "00020"]) == ("00005", "00015", 5)
    assert find_gap(["00000", "00005", "00010", "00011"]) is None  # every 5th + the last: irregular
    assert find_gap(["00000", "00001", "00002"]) is None
    assert find_gap(["a", "b", "d"]) is None


def test_meta_only_check_reports_a_hole_in_every_frame_predictions(make_synth, tmp_path: Path, capsys) -> None:
    data = make_synth(videos=1, frames=12, size=(32, 48), seed=1, annotate_every=5)
    ds = open_dataset(data)
    preds = _every_frame_predictions(data, tmp_path / "pred")
    assert validate_predictions(preds, ds.meta)[0].ok
    (preds / "synth000" / "00005.png").unlink()  # a GT frame; 11 PNGs still >= length (4)
    report, _ = validate_predictions(preds, ds.meta)
    assert not report.ok and report.total_problems == 1
    assert "synth000: frame(s) missing: 00004.png is followed by 00006.png" in report.problems[0]
    assert main(["check-predictions", str(preds), "--meta", str(data / "meta.json")]) == 2
    assert "00004.png is followed by 00006.png" in capsys.readouterr().err


def test_stray_ground_truth_png_is_named_stray(make_synth, capsys) -> None:
    data = make_synth(videos=1, frames=6, size=(32, 48), seed=3)
    ann = data / "Annotations" / "synth000"
    shutil.copy(ann / "00004.png", ann / "00004 copy.png")
    with pytest.raises(DataError, match=r"00004 copy\.png \(1 such file\(s\)\) is a stray file.*remove or rename") \
            as exc:
        open_dataset(data).video("synth000")
    assert "re-extract" not in str(exc.value)
    assert main(["check-data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "00004 copy.png" in err and "stray file" in err and "re-extract" not in err


def test_mask_of_a_missing_numbered_frame_still_says_missing(make_synth) -> None:
    data = make_synth(videos=1, frames=6, size=(32, 48), seed=3)
    (data / "JPEGImages" / "synth000" / "00005.jpg").unlink()
    with pytest.raises(DataError, match=r"00005\.png has no frame .*re-extract"):
        open_dataset(data).video("synth000")


def test_synth_to_unwritable_path_is_a_data_error(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    target = blocker / "sub" / "set"
    with pytest.raises(DataError, match=r"cannot write the synthetic set to .*afile/sub/set \(.*afile is a file"):
        generate(target, videos=1, frames=3, size=(32, 32))
    assert main(["synth", str(target), "--videos", "1", "--frames", "3", "--size", "32x32"]) == 2
    assert str(target) in capsys.readouterr().err
    assert main(["synth", str(blocker), "--videos", "1", "--frames", "3", "--size", "32x32"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no temp folder left
    if Path("/proc/self").is_dir():  # Linux: nobody, root included, can create folders in /proc
        assert main(["synth", "/proc/mosebench-test/set", "--videos", "1", "--frames", "3", "--size", "32x32"]) == 2
        assert "cannot write the synthetic set to /proc/mosebench-test/set" in capsys.readouterr().err


def _without_dac_override(argv: list[str]) -> list[str]:
    """``argv`` run so that permission bits stop writes even for root: as root (CI) without the
    capabilities that let root ignore them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), via util-linux's
    setpriv; unchanged for another user."""
    import os

    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to test permission errors as root"
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *argv]


def test_synth_to_read_only_folder_is_a_data_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    code = ("import sys; from harness.cli import main; "
            f"sys.exit(main(['synth', {str(ro / 'set')!r}, '--videos', '1', '--frames', '3', '--size', '32x32']))")
    try:
        proc = subprocess.run(_without_dac_override([sys.executable, "-c", code]), capture_output=True, text=True,
                              timeout=120)
    finally:
        ro.chmod(0o700)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"cannot write the synthetic set to {ro / 'set'}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(ro.iterdir()) == []  # nothing half-written
