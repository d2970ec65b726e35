"""What one cell's MLflow run holds, made for comparing methods (docs/reporting.md, "MLflow").

* params: the cell's resolved config (method / setting / dataset options, package versions) without the
  cluster's (``cluster.*`` is where a run ran, not what it measured; it stays in the ``config.yaml`` artifact);
* metrics: the summary's keys as they are (names: :mod:`harness.metrics.names`) plus each 95% bootstrap
  interval as ``<key>_ci_low`` / ``<key>_ci_high`` (local scores only);
* the description (``mlflow.note.content``): method, setting, dataset, videos, where the scores come from;
* the dataset as an MLflow dataset input (name = the config's dataset name, source = its root folder,
  digest = the plan's data fingerprint): the runs page's "Dataset" column;
* artifacts: config, cell summary, the score files (per-object table, attribute table, long-video table,
  VOT curves as JSON and PNG), the server's files for ingested cells, and for a plugin method its adapter
  source.

Only :mod:`harness.runner.mlflow_log` calls this, with MLflow already imported.
"""

from __future__ import annotations

import inspect
import json
import math
import warnings
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from harness.config import Cell, ExperimentConfig, adapter_name, flatten, to_plain
from harness.metrics.names import SYMBOL, ci_keys
from harness.runner.rundir import RunDir, cell_identity, read_json

# scores/ files logged under "scores/" (per-object, attribute and long-video tables, VOT curves, official files)
SCORE_ARTIFACTS = ("per_object.csv", "per_frame.parquet", "metrics.json", "scores.txt", "summary.json",
                   "attributes.csv", "attributes.md", "long_videos.json", "vot.json")
DATA_CONTEXT = "eval"  # the dataset input's mlflow.data.context tag: the split was evaluated, not trained on


def _method_params(cfg: ExperimentConfig, method: str) -> dict[str, Any]:
    raw = dict(cfg.method.get(method) or {})
    try:
        from harness import registry

        name = adapter_name(method, raw)
        typed = registry.build_config(registry.get(name), {k: v for k, v in raw.items() if k != "adapter"})
        if is_dataclass(typed):
            raw = {**asdict(typed), **({"adapter": name} if name != method else {})}
    except Exception:  # params are informative; never block logging on them
        pass
    return raw


def cell_params(cfg: ExperimentConfig, summary: dict, provenance: dict) -> dict[str, str]:
    """Flattened resolved config of one cell (its own method/setting/dataset, shared options); no ``cluster.*``."""
    tree = {
        "experiment": cfg.name, "method": summary["method"], "setting": summary["setting"],
        "dataset": summary["dataset"], "device": cfg.device,
        "method_cfg": _method_params(cfg, summary["method"]),
        "setting_cfg": to_plain(cfg.setting[summary["setting"]]),
        "dataset_cfg": to_plain(cfg.dataset[summary["dataset"]]),
        "packages": provenance.get("packages", {}),
    }
    return {k: str(v)[:6000] for k, v in flatten(tree).items()}


def cell_metrics(cdir_scores: Path, summary: dict) -> dict[str, float]:
    """The summary's finite metrics plus ``<key>_ci_low/_high`` from ``scores/summary.json`` ``ci``."""
    out = {k: float(v) for k, v in summary["metrics"].items()
           if isinstance(v, (int, float)) and math.isfinite(float(v))}
    if summary.get("source") == "server":  # the server's numbers; a stale local interval would mislead
        return out
    for key, pair in ((read_json(cdir_scores / "summary.json") or {}).get("ci") or {}).items():
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in pair):
            lo, hi = ci_keys(key)
            out[lo], out[hi] = float(pair[0]), float(pair[1])
    return out


def dataset_identity(cfg: ExperimentConfig, run: RunDir, cell: Cell) -> tuple[str, str, str]:
    """(config name, resolved root folder, the plan's data fingerprint or "")."""
    ds = cfg.dataset[cell.dataset]
    root = str(Path(ds.root).expanduser().resolve()) if ds.root else ""
    ident = cell_identity(run, cell.name)
    return cell.dataset, root, ident.data.digest if ident is not None else ""


def dataset_tags(cfg: ExperimentConfig, run: RunDir, cell: Cell) -> dict[str, str]:
    """The dataset by identity (root folder and the plan's data fingerprint), not by config name."""
    name, root, fingerprint = dataset_identity(cfg, run, cell)
    ident = f"{root}@{fingerprint[:12]}" if fingerprint else root
    return {"dataset": ident, "dataset.name": name, "dataset.root": root,
            **({"dataset.fingerprint": fingerprint} if fingerprint else {})}


def dataset_input(cfg: ExperimentConfig, run: RunDir, cell: Cell) -> Any:
    """The MLflow ``DatasetInput`` of the cell's split (digest: 12 hex of the fingerprint, as the tag)."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag

    name, root, fingerprint = dataset_identity(cfg, run, cell)
    with warnings.catch_warnings():  # MLflow registers its local-file source twice and says so on each call
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(root or name)
    ds = MetaDataset(source, name=name, digest=(fingerprint[:12] or None))
    return DatasetInput(ds._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", DATA_CONTEXT)])


def description(cfg: ExperimentConfig, run: RunDir, cell: Cell, summary: dict) -> str:
    """Markdown for the run's description: what was run on what, and the headline number."""
    name, root, fingerprint = dataset_identity(cfg, run, cell)
    adapter = adapter_name(cell.method, dict(cfg.method.get(cell.method) or {}))
    jf = summary["metrics"].get("JF_hat")
    lines = [
        f"**{cell.method}**" + (f" (adapter `{adapter}`)" if adapter != cell.method else "")
        + f", setting **{cell.setting}**, dataset **{name}** ({summary.get('videos', '?')} videos)",
        f"dataset root `{root or '-'}`" + (f", fingerprint `{fingerprint[:12]}`" if fingerprint else ""),
        f"scores: {'the evaluation server (mosebench ingest)' if summary.get('source') == 'server' else 'local'}"
        + (f"; {SYMBOL['JF_hat']} = {jf:.1f}" if isinstance(jf, (int, float)) and math.isfinite(jf) else ""),
        f"mosebench run `{run.root.name}` of experiment `{cfg.name}` ({run.root.resolve()})",
    ]
    return "  \n".join(lines)


def adapter_sources(cfg: ExperimentConfig, method: str) -> list[Path]:
    """For a method not built into mosebench: its adapter's source file and the run's ``--plugin`` .py files."""
    from harness import registry

    name = adapter_name(method, dict(cfg.method.get(method) or {}))
    if name in registry.BUILTINS:
        return []  # its code is the logged git commit
    out: list[Path] = []
    try:
        f = inspect.getsourcefile(registry.get(name))
        if f:
            out.append(Path(f))
    except Exception:  # an adapter that cannot be imported here still gets its plugin files
        pass
    out += [Path(p) for p in cfg.plugins if str(p).endswith(".py")]
    seen: set[Path] = set()
    return [p for p in out if p.is_file() and not (p.resolve() in seen or seen.add(p.resolve()))]


def vot_png(vot_json: Path, title: str) -> bytes | None:
    """The cell's success and precision curves (``scores/vot.json`` ``dataset``) as one PNG, or None."""
    d = (read_json(vot_json) or {}).get("dataset") or {}
    if not d.get("success_curve"):
        return None
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from harness.metrics.vot import IOU_THRESHOLDS, PIXEL_THRESHOLDS

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.plot(IOU_THRESHOLDS[:len(d["success_curve"])], d["success_curve"], label=f"AUC {d.get('auc', 0):.1f}")
    a.set(xlabel="overlap threshold", ylabel="success rate (%)", title="success")
    if d.get("precision_curve"):
        b.plot(PIXEL_THRESHOLDS[:len(d["precision_curve"])], d["precision_curve"],
               label=f"P@20 {d.get('precision', 0):.1f}")
    b.set(xlabel="location error threshold (px)", ylabel="precision (%)", title="precision")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def log_artifacts(client: Any, rid: str, run: RunDir, cfg: ExperimentConfig, cell: Cell) -> None:
    """Every artifact of the cell's run (see the module docstring); re-logging overwrites, never duplicates."""
    import tempfile

    cdir = run.cell(cell.name)
    client.log_artifact(rid, str(run.config))
    client.log_artifact(rid, str(cdir.summary), "cell")
    for fname in SCORE_ARTIFACTS:
        if (cdir.scores / fname).is_file():
            client.log_artifact(rid, str(cdir.scores / fname), "scores")
    for fpath in sorted((cdir.root / "server_scores").glob("*")):
        client.log_artifact(rid, str(fpath), "server_scores")
    for plot in sorted(cdir.scores.glob("*.png")):
        client.log_artifact(rid, str(plot), "plots")
    png = vot_png(cdir.scores / "vot.json", f"{cell.name}: one-pass tracking curves")
    with tempfile.TemporaryDirectory() as tmp:
        if png:
            (Path(tmp) / "vot_curves.png").write_bytes(png)
            client.log_artifact(rid, str(Path(tmp) / "vot_curves.png"), "plots")
        sources = adapter_sources(cfg, cell.method)
        for src in sources:
            client.log_artifact(rid, str(src), "adapter")
        if sources:
            (Path(tmp) / "adapter.json").write_text(json.dumps({"method": cell.method, "files": [
                str(p.resolve()) for p in sources]}, indent=1))
            client.log_artifact(rid, str(Path(tmp) / "adapter.json"), "adapter")
