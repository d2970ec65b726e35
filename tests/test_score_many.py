"""`mosebench score --pred A B ...`: several prediction folders scored into one table (as vos-benchmark does),
each number the one a single-folder `score` gives."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from _runner_common import main
from PIL import Image


def _erode_one_object(src: Path, dst: Path) -> None:
    """Predictions = ground truth with object 1 dropped from every other frame (a worse 'method')."""
    shutil.copytree(src, dst)
    for i, png in enumerate(sorted(dst.rglob("*.png"))):
        if i % 2:
            im = Image.open(png)
            a = np.array(im)
            a[a == 1] = 0
            out = Image.fromarray(a, mode="P")
            out.putpalette(im.getpalette())
            out.save(png)


def test_several_prediction_folders_one_table(tmp_path: Path, synth_data: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    gt = synth_data / "Annotations"
    perfect, worse = tmp_path / "a" / "pred", tmp_path / "b" / "pred"  # same folder name: parents tell them apart
    shutil.copytree(gt, perfect)
    _erode_one_object(gt, worse)
    base = ["score", "--meta", str(synth_data / "meta.json"), "--gt", str(gt), "--jobs", "1", "--ci-samples", "200"]
    rc, out = main(capsys, *base, "--pred", str(perfect), str(worse), "--out", str(tmp_path / "both"))
    assert rc == 0, out
    rows = {r["predictions"]: r for r in csv.DictReader((tmp_path / "both" / "table.csv").open())}
    assert set(rows) == {"a/pred", "b/pred"}
    assert "| predictions | J&F̂ | J | F̂ | J&F̂_d | J&F̂_r | F | J&F | objects |" in out
    assert float(rows["a/pred"]["JF_hat"]) == pytest.approx(100.0)
    assert float(rows["b/pred"]["JF_hat"]) < 100.0
    for name, folder in (("a/pred", perfect), ("b/pred", worse)):
        single = tmp_path / ("single-" + name.replace("/", "_"))
        assert main(capsys, *base, "--pred", str(folder), "--out", str(single))[0] == 0
        s = json.loads((single / "summary.json").read_text())
        for key in ("JF_hat", "J", "F_hat", "JF"):
            assert float(rows[name][key]) == pytest.approx(s[key]), (name, key)
        assert float(rows[name]["JF_hat_ci_low"]) == pytest.approx(s["ci"]["JF_hat"][0])
        assert (tmp_path / "both" / name.replace("/", "__") / "scores.txt").is_file()
        assert f"| {name} | {s['JF_hat']:.1f}" in out
    rc, _ = main(capsys, *base, "--pred", str(perfect), str(perfect), "--out", str(tmp_path / "dup"))
    assert rc == 2
