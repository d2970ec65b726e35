"""`mosebench report` on a real demo run (all weight-free settings on synth-tiny), plus the paper matching."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _runner_common import cli, main, run_dir_from

from harness.report import layouts, render
from harness.report.collect import CellResult


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    out = cli("run", "experiment=demo", f"results={tmp / 'results'}", "dataset=synth-tiny", "cluster=inline",
              "mlflow.enabled=false", timeout=600).stdout
    return run_dir_from(out)


def test_markdown_has_the_paper_layouts(demo_run, capsys):
    rc, out = main(capsys, "report", str(demo_run))
    assert rc == 0
    for n in (4, 5, 6, 7, 8, 9, 10):
        assert f"### TABLE {n}:" in out
    t4 = out.split("### TABLE 5")[0]
    header = next(line for line in t4.splitlines() if line.startswith("| method"))
    assert header.split(" | ")[3:] == ["J&F̂", "J", "F̂", "J&F̂_d", "J&F̂_r", "F", "J&F", "FPS", "Mem (GiB) |"]
    static = next(line for line in t4.splitlines() if line.startswith("| static |"))
    summary = json.loads((demo_run / "static--mask--synth-tiny" / "summary.json").read_text())
    assert f"| {summary['metrics']['JF_hat']:.1f} [" in static  # ours with its CI
    assert static.rstrip(" |").endswith("–")  # no GPU memory on CPU
    t9 = out.split("### TABLE 9")[1].split("###")[0]
    assert "| static | ours |" in t9 and "| method | ours" not in t9  # rows named by method
    for m in ("flow", "csrt", "mil"):
        assert f"| {m} | ours |" in out.split("### TABLE 10")[1]


def test_csv_values_are_the_summaries(demo_run, tmp_path, capsys):
    rc, _ = main(capsys, "report", str(demo_run), "--format", "csv", "-o", str(tmp_path / "r.csv"))
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    vot = {r["method"]: float(r["ours"]) for r in rows if r["table"] == "10" and r["metric"] == "AUC"}
    for m in ("flow", "csrt", "mil"):
        s = json.loads((demo_run / f"{m}--vot--synth-tiny" / "summary.json").read_text())
        assert vot[m] == pytest.approx(s["metrics"]["AUC"])


def test_a_table_the_runs_cannot_fill_is_an_error(demo_run):
    only_mask = cli("report", str(demo_run), "--table", "11", check=False)
    assert only_mask.returncode == 2 and "TABLE 11 needs" in only_mask.stderr


def _cell(method: str, jf: float, ci: tuple[float, float]) -> CellResult:
    return CellResult(run="r", cell=f"{method}--mask--mosev2", method=method, setting="mask", dataset="mosev2",
                      videos=10, metrics={"JF_hat": jf, "fps": 20.0}, ci={"JF_hat": ci})


def test_paper_row_delta_and_significance():
    cells = [_cell("sam2-b+", 45.0, (43.0, 47.0)), _cell("sam2-l", 55.0, (52.0, 58.0)), _cell("flow", 10, (9, 11))]
    t = layouts.build(4, cells)
    by = {r.method: r for r in t.rows}
    b, lg, flow = by["sam2-b+"].values[0], by["sam2-l"].values[0], by["flow"]
    assert by["sam2-b+"].paper_label == "SAM2-B+ (ZS)" and b.paper == 42.4
    assert b.delta == pytest.approx(45.0 - 42.4) and b.better  # CI 43..47 excludes 42.4 from above
    assert lg.paper == 49.5 and lg.better
    assert flow.paper_label is None and all(v.paper is None for v in flow.values)
    not_sig = layouts.build(4, [_cell("sam2-b+", 45.0, (42.0, 48.0))]).rows[0].values[0]
    assert not not_sig.better  # the interval holds the paper's 42.4
    md = render.markdown(t)
    assert "| SAM2-B+ (ZS) | paper |" in md and "+2.6" in md and "45.0 [43.0, 47.0]*" in md
    fps = by["sam2-b+"].values[-2]
    assert fps.paper == 23.4 and fps.ours == 20.0 and not fps.better  # no CI on speed: never marked


def test_html_is_self_contained_and_renders_in_chromium(demo_run, tmp_path, capsys):
    page = tmp_path / "report.html"
    rc, _ = main(capsys, "report", str(demo_run), "--format", "html", "-o", str(page), "--plots", str(tmp_path))
    assert rc == 0
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    assert text.count("data:image/png;base64,") == 4  # d-vs-r, fps-vs-J&F̂, attributes, VOT curves
    assert (tmp_path / "vot_curves.png").read_bytes()[:4] == b"\x89PNG"
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (scripts/install_chromium.sh)")
    js = ("<script>window.onload=()=>{document.body.setAttribute('data-imgs',"
          "[...document.images].filter(i=>i.complete&&i.naturalWidth>0).length)}</script>")
    (tmp_path / "probe.html").write_text(text.replace("</body>", js + "</body>"))
    proc = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'chrome'}", "--virtual-time-budget=5000", "--dump-dom",
                           (tmp_path / "probe.html").as_uri()], capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert 'data-imgs="4"' in dom, proc.stderr[-2000:]  # every figure decoded by the browser
    assert len(re.findall(r"<tr class=\"ours\">", dom)) >= 10 and "TABLE 10: video object tracking" in dom


def test_latex_compiles(demo_run, tmp_path, capsys):
    exe = shutil.which("pdflatex")
    if exe is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-base)")
    rc, _ = main(capsys, "report", str(demo_run), "--format", "tex", "-o", str(tmp_path / "r.tex"))
    assert rc == 0
    proc = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "r.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "r.pdf").stat().st_size > 1000


@pytest.mark.slow
def test_paper_table4_experiment_reports_paper_numbers(tmp_path, capsys):
    """The shipped paper-table4 experiment, narrowed to SAM2-B+ (seeded random weights: no download) on
    synth-tiny, runs and reports next to the paper's "SAM2-B+ (ZS)" row with deltas."""
    out = cli("run", "experiment=paper-table4", "method=sam2-b+", "dataset=synth-tiny", "cluster=inline",
              "mlflow.enabled=false", f"results={tmp_path / 'results'}", "method.sam2-b+.random_init=true",
              "method.sam2-b+.image_size=64", timeout=900).stdout
    run = run_dir_from(out)
    rc, md = main(capsys, "report", str(run))
    assert rc == 0
    lines = md.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("| sam2-b+ | ours |"))
    assert lines[i + 1].startswith("| SAM2-B+ (ZS) | paper |  | 42.4 | 40.7 |")
    ours = json.loads((run / "sam2-b+--mask--synth-tiny" / "summary.json").read_text())["metrics"]["JF_hat"]
    assert lines[i + 2].startswith(f"|  | Δ |  | {ours - 42.4:+.1f} |")
