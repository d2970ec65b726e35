"""`mosebench ui`: start the MLflow UI on 127.0.0.1 over a run's (or any) tracking store."""

from __future__ import annotations

import argparse

HELP = "start the MLflow UI on 127.0.0.1 over a run's store (default results/mlflow.db)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", default=None, help="a run directory (its MLflow store is used)")
    parser.add_argument("--store", default=None,
                        help="a sqlite file (results/mlflow.db) or a backend store URI; default results/mlflow.db")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--artifacts", default=None, help="artifact folder for runs logged through this server")
    parser.add_argument("--dry-run", action="store_true", help="print the server command and exit")


def server_command(store_uri: str, artifacts: str, host: str, port: int) -> list[str]:
    import sys

    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri,
            "--artifacts-destination", artifacts, "--host", host, "--port", str(port), "--workers", "1"]


def _experiment_id(run_dir: str | None) -> str:
    """The MLflow experiment id a run's cells were logged to (from ``<cell>/mlflow.json``), else ``<id>``."""
    if run_dir:
        import json
        from pathlib import Path

        for note in sorted(Path(run_dir).glob("*/mlflow.json")):
            try:
                return str(json.loads(note.read_text())["experiment_id"])
            except (OSError, ValueError, KeyError):
                continue
    return "<id>"


def run(args: argparse.Namespace) -> int:
    import os
    import signal
    import subprocess
    from pathlib import Path

    from harness.errors import ConfigError

    if args.store:
        store = args.store if "://" in args.store else f"sqlite:///{Path(args.store).resolve()}"
        results = Path(args.store).resolve().parent if "://" not in args.store else Path("results").resolve()
    elif args.run_dir:
        from harness.runner.mlflow_log import tracking_uri
        from harness.runner.rundir import RunDir, load_run_config

        cfg = load_run_config(RunDir.open(args.run_dir))
        store = tracking_uri(cfg)
        results = Path(cfg.results).resolve()
        if store.startswith(("http://", "https://")):
            print(f"this run logs to a tracking server: open {store} in a browser")
            return 0
    else:
        store = f"sqlite:///{Path('results/mlflow.db').resolve()}"
        results = Path("results").resolve()
    if store.startswith("sqlite:///") and not Path(store[len("sqlite:///"):]).is_file():
        raise ConfigError(f"no MLflow store at {store[len('sqlite:///'):]}; run `mosebench run` first or "
                          "pass --store PATH")
    artifacts = args.artifacts or str(results / "mlartifacts")
    cmd = server_command(store, artifacts, args.host, args.port)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    print(f"MLflow UI at http://{args.host}:{args.port}  (store {store}; Ctrl-C stops it)", flush=True)
    print(f"  runs with the paper's metrics as columns: http://{args.host}:{args.port}/#/experiments/"
          f"{_experiment_id(args.run_dir)}/runs?viewStateShareKey=mosebench", flush=True)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    # The server forks workers: run it in its own process group and stop the whole group when we
    # are interrupted or terminated, so nothing is left listening.
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
