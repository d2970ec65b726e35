"""`mosebench log RUN_DIR`: log (or re-log) a run's scored cells to MLflow."""

from __future__ import annotations

import argparse

HELP = "log a run directory's scored cells to MLflow (e.g. after the tracking server was unreachable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="the run directory")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: the run's mlflow.tracking_uri or results/mlflow.db)")
    parser.add_argument("--rescore", action="store_true", help="score complete cells again first")


def run(args: argparse.Namespace) -> int:
    from harness.errors import MosebenchError
    from harness.runner.cell_summary import aggregate_run
    from harness.runner.mlflow_log import log_run, tracking_uri
    from harness.runner.rundir import RunDir, load_run_config

    run_dir = RunDir.open(args.run_dir)
    result = aggregate_run(run_dir.root, log_mlflow=False, force=args.rescore)
    cfg = load_run_config(run_dir)
    uri = args.tracking_uri or tracking_uri(cfg)
    try:
        ids = log_run(run_dir, cfg, uri=uri)
    except MosebenchError:
        raise
    except Exception as exc:
        if uri.startswith("sqlite:"):  # no server involved: the file itself is the problem
            hint = (f"the sqlite store {uri[len('sqlite:///'):]} may be damaged (e.g. a full disk while MLflow "
                    "created its tables): move it aside to have a new one created, or pass --tracking-uri")
        else:
            hint = "check the server is up (mosebench ui) or pass --tracking-uri"
        raise MosebenchError(f"cannot log to MLflow at {uri}: {exc!r:.300}; {hint}") from exc
    (run_dir.root / "mlflow_pending.json").unlink(missing_ok=True)
    print(f"logged {len(ids)} new MLflow run(s) to {uri} ({len(result['summaries'])} scored cell(s); "
          f"incomplete: {', '.join(result['incomplete']) or 'none'})")
    return 0
