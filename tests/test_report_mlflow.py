"""`mosebench report` on runs that exist only in MLflow: the same tables as from the run directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _runner_common import main, run_dir_from, smoke


def test_report_from_mlflow_equals_report_from_the_run_directory(tmp_path: Path, synth_data: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    exp_file = tmp_path / "cmp.yaml"
    exp_file.write_text("defaults: [smoke]\nname: cmp\ncells:\n"
                        "  - {methods: [static, flow], settings: [mask], datasets: [synth-tiny]}\n"
                        "  - {methods: [flow], settings: [vot], datasets: [synth-tiny]}\n")
    rc, out = main(capsys, "run", f"experiment={exp_file}", *smoke(tmp_path, synth_data, "mlflow.enabled=true")[1:])
    assert rc == 0, out
    run_dir = run_dir_from(out)
    uri = f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}"
    rc, local = main(capsys, "report", str(run_dir))
    assert rc == 0 and "### TABLE 4" in local and "### TABLE 9" in local and "### TABLE 10" in local
    assert "[" in local.split("### TABLE 5")[0]  # CIs

    parent = json.loads((run_dir / "static--mask--synth-tiny" / "mlflow.json").read_text())["parent_run_id"]
    shutil.move(run_dir, tmp_path / "elsewhere")  # the run directory is gone; MLflow holds the run
    for ref in (str(run_dir), f"cmp/{run_dir.name}", run_dir.name, parent):
        rc, remote = main(capsys, "report", ref, "--tracking-uri", uri)
        assert rc == 0 and remote == local, (ref, remote)
    rc, _ = main(capsys, "report", "cmp/0000000000", "--tracking-uri", uri)
    assert rc == 2
