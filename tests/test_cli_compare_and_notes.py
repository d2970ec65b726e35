"""`mosebench compare` takes run and cell folders; selections that drop combinations say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from _runner_common import main, run_dir_from, smoke

from harness.cli import main as cli_main


def test_compare_accepts_run_and_cell_folders(tmp_path: Path, synth_data: Path, capsys: pytest.CaptureFixture) -> None:
    a = run_dir_from(main(capsys, "run", *smoke(tmp_path / "a", synth_data))[1])
    b = run_dir_from(main(capsys, "run", *smoke(tmp_path / "b", synth_data, "method=flow"))[1])
    rc, out = main(capsys, "compare", str(a), str(b), "--samples", "200")
    assert rc == 0 and f"B = {b / 'flow--mask--synth-tiny' / 'scores'}" in out and "JF_hat" in out, out
    rc, out = main(capsys, "compare", str(a / "static--mask--synth-tiny"), str(b / "flow--mask--synth-tiny"),
                   "--samples", "200", "--out", str(tmp_path / "cmp.json"))
    assert rc == 0 and (tmp_path / "cmp.json").is_file()
    capsys.readouterr()
    assert cli_main(["compare", str(tmp_path), str(b), "--samples", "200"]) == 2
    err = capsys.readouterr().err
    assert "holds no per_frame.parquet" in err and "run folder" in err, err


def test_selection_that_drops_combinations_says_which_and_why(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc, out = main(capsys, "run", "method=flow,static", "setting=mask,box", f"results={tmp_path / 'r'}",
                   f"dataset.synth.root={tmp_path / 'd'}", "--dry-run")
    assert rc == 0
    note = next(line for line in out.splitlines() if line.startswith("note: not run"))
    assert "static x box (static cannot run box: needs a method that accepts box prompts)" in note, note
    assert "flow x" not in note and "static x mask" not in note
