"""`mosebench report`: the paper's tables from run directories, with the paper's numbers side by side."""

from __future__ import annotations

import argparse

HELP = "the paper's tables (4-11) from run directories (or runs only in MLflow), with the paper's numbers, deltas, CIs and plots"
TABLES = ("4", "5", "6", "7", "8", "9", "10", "11", "auto")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="run directories (results/runs/<experiment>/<id>); a RUN that is no directory is read "
                             "from MLflow: EXPERIMENT/RUN_ID, a run id, or an MLflow parent run id")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow store for runs that exist only there (default sqlite:///results/mlflow.db)")
    parser.add_argument("--table", choices=TABLES, default="auto",
                        help="the paper's table to lay out (default auto: every table the runs' settings fill)")
    parser.add_argument("--format", choices=("md", "tex", "csv", "html"), default="md")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    parser.add_argument("--plots", metavar="DIR", help="also write the figures as PNG files into DIR")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from harness.atomic import atomic_write_bytes
    from harness.errors import DataError
    from harness.report import layouts, render
    from harness.report.collect import collect

    if args.output and Path(args.output).is_dir():
        raise DataError(f"-o {args.output} is a folder; pass the file to write, e.g. {Path(args.output) / 'report.md'}")
    local = [r for r in args.runs if Path(r).is_dir()]
    cells, missing = collect(local) if local else ([], [])
    remote = [r for r in args.runs if not Path(r).is_dir()]
    if remote:
        from harness.report.from_mlflow import collect_mlflow
        from harness.runner.mlflow_log import check_store

        uri = args.tracking_uri or f"sqlite:///{Path('results/mlflow.db').resolve()}"
        if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
            raise DataError(f"{', '.join(remote)}: no such run directory, and no MLflow store at "
                            f"{uri[len('sqlite:///'):]} to look them up in; pass --tracking-uri")
        check_store(uri)
        cells = [*cells, *collect_mlflow(remote, uri)]
    if not cells:
        raise DataError(f"no finished cell in {', '.join(args.runs)}; `mosebench status RUN` says why")
    numbers = layouts.applicable(cells) if args.table == "auto" else [int(args.table)]
    tables = []
    for n in numbers:
        t = layouts.attribute_table(cells) if n == 9 else layouts.build(n, cells)
        if not t.rows:
            want = "mask cells with attribute tables" if n == 9 else \
                "cells of setting " + "/".join(layouts.LAYOUTS[n].settings)
            raise DataError(f"TABLE {n} needs {want}; the runs have settings "
                            f"{sorted({c.setting for c in cells})}; pick another --table or use auto")
        tables.append(t)
    figures = {}
    if args.format == "html" or args.plots:
        from harness.report.plots import figures as make_figures

        figures = make_figures(cells)
    if args.format == "md":
        text = "\n".join(render.markdown(t) for t in tables)
    elif args.format == "csv":
        text = render.csv_text(tables)
    elif args.format == "tex":
        text = render.latex(tables)
    else:
        text = render.html_page(tables, figures, title=f"mosebench report: {', '.join(args.runs)}")
    if missing:
        print(f"not scored: {', '.join(missing)} (unfinished: mosebench resume RUN; predicted for the evaluation "
              "server: mosebench ingest RUN/<cell> RESULT)", file=sys.stderr)
    if args.plots:
        for name, png in figures.items():
            atomic_write_bytes(Path(args.plots) / f"{name}.png", png)
    if args.output:
        atomic_write_bytes(args.output, text.encode())
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
