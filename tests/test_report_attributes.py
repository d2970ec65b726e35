"""TABLE 9 from the runner and from `mosebench score` agree on the same predictions (both read the dataset's
attributes.json, adding GT-derived codes), and `mosebench report --table 9` prints the runner's table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from _runner_common import cli, main, run_dir_from

CELL = "static--mask--synth-tiny"


def _rows(path: Path) -> dict[str, dict]:
    with open(path, newline="") as f:
        return {r["attribute"]: r for r in csv.DictReader(f)}


def test_runner_and_score_write_the_same_attribute_table(tmp_path, capsys):
    run = run_dir_from(cli("run", "experiment=smoke", f"results={tmp_path / 'results'}").stdout)
    # the smoke experiment's synthetic set: no root in its config, so <results>/data/<name>-<options hash>
    (data,) = (tmp_path / "results" / "data").glob("synth-tiny-*")
    attrs = json.loads((data / "attributes.json").read_text())["videos"]
    assert any(attrs.values()), "the synthetic set ships attribute codes (the case the runner used to ignore)"
    cli("score", "--meta", str(data / "meta.json"), "--gt", str(data / "Annotations"), "--pred",
        str(run / CELL / "predictions"), "--out", str(tmp_path / "scored"), "--jobs", "1")
    ours, theirs = _rows(run / CELL / "scores" / "attributes.csv"), _rows(tmp_path / "scored" / "attributes.csv")
    assert ours == theirs
    # attributes.json codes are not marked derived: the runner read the file
    from_file = {c for objs in attrs.values() for codes in objs.values() for c in codes}
    assert from_file and all(ours[c]["derived"] == "False" for c in from_file if c in ours)
    rc, out = main(capsys, "report", str(run), "--table", "9")
    overall = float(ours["Overall"]["JF_hat"])
    assert rc == 0 and f"| static | ours | local | {overall:.1f} |" in out
