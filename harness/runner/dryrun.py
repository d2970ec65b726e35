"""``--dry-run``: what a run or resume would do, without doing any of it.

Prints the cells, the videos each would predict, the shards they are cut into, and how they would
be started: in this process (``inline``), as local processes (``local``), or the ``sbatch`` scripts
of the job array and of the dependent scoring job (``slurm``). Nothing is written: no run
directory, no synthetic data, no job folder, no submission.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.config import DatasetConfig, ExperimentConfig


def _videos(ds: DatasetConfig) -> tuple[tuple[str, ...], str]:
    """The dataset's videos (for this run's selection) and a note; a synthetic set that would be
    (re)generated is described from its spec instead of being generated."""
    from harness.runner.plan import SYNTH_SPEC, dataset_videos, open_dataset

    root = Path(ds.root)
    marker = root / SYNTH_SPEC
    if ds.synth is not None and (not root.exists() or (marker.is_file()
                                                       and json.loads(marker.read_text()) != asdict(ds.synth))):
        s = ds.synth
        names = tuple(f"synth{i:03d}" for i in range(s.videos))
        names = names[: ds.max_videos] if ds.max_videos > 0 else names
        return tuple(ds.videos or names), (f"synthetic, would be generated in {root} ({s.videos} videos x {s.frames} "
                                           f"frames, {s.height}x{s.width}, seed {s.seed})")
    return dataset_videos(ds, open_dataset(ds)), str(root)


def describe(cfg: ExperimentConfig, pending: dict[str, list[str]] | None = None, *,
             run_dir: str | None = None) -> str:
    """The plan of ``cfg`` as text. ``pending`` (cell -> videos still to do) is given for a resume;
    otherwise every video of every cell is planned (as a fresh run, or a rerun that finds nothing
    done)."""
    from harness.runner.plan import check_capabilities, plan_shards, resolve_cells

    cells = resolve_cells(cfg)
    check_capabilities(cfg, cells)
    lines = [f"dry run: nothing is written or submitted (experiment '{cfg.name}', cluster '{cfg.cluster.name}', "
             f"executor {cfg.cluster.executor})"]
    if run_dir:
        lines.append(f"run directory: {run_dir}")
    if pending is None:
        pending = {}
        notes = {}
        for name in sorted({c.dataset for c in cells}):
            vids, notes[name] = _videos(cfg.dataset[name])
            pending.update({c.name: list(vids) for c in cells if c.dataset == name})
        lines.append(f"cells ({len(cells)}):")
        for c in cells:
            vids = pending[c.name]
            lines.append(f"  {c.name}: method {c.method}, setting {c.setting}, dataset {c.dataset} "
                         f"[{notes[c.dataset]}]: {len(vids)} video(s) {_short(vids)}")
    else:
        lines.append(f"cells with videos to do ({len(pending)} of {len(cells)}):")
        lines += [f"  {name}: {len(v)} video(s) {_short(v)}" for name, v in pending.items()]
    pending = {k: v for k, v in pending.items() if v}
    shards = plan_shards(pending, cfg.cluster)
    lines.append(f"shards ({len(shards)}):" if shards else "shards: none (nothing to predict)")
    lines += [f"  {s.index}: {s.describe()}" for s in shards]
    lines += _how(cfg, len(shards), run_dir)
    return "\n".join(lines)


def _short(videos: list[str] | tuple[str, ...], n: int = 6) -> str:
    return ", ".join(videos[:n]) + (f", ... ({len(videos) - n} more)" if len(videos) > n else "")


def _how(cfg: ExperimentConfig, n_shards: int, run_dir: str | None) -> list[str]:
    c = cfg.cluster
    if not n_shards:
        return []
    if c.executor == "inline":
        return ["executor inline: the shards run one after the other in this process"]
    if c.executor == "local":
        gpus = f", {c.gpus} GPU(s) each" if c.gpus else ""
        return [f"executor local: {n_shards} process(es) on this machine (submitit LocalExecutor{gpus}, time limit "
                f"{c.timeout_min} min)"]
    return ["executor slurm: one job array, then a dependent scoring + MLflow job (afterany)",
            *slurm_scripts(cfg, n_shards, run_dir)]


def slurm_scripts(cfg: ExperimentConfig, n_shards: int, run_dir: str | None) -> list[str]:
    """The two ``sbatch`` scripts the driver would submit (job ids shown as placeholders)."""
    from submitit.slurm.slurm import _make_sbatch_string

    from harness.runner.executors import slurm_parameters

    folder = Path(cfg.cluster.folder) if cfg.cluster.folder else Path(run_dir or "<run directory>") / "jobs"
    params: dict[str, Any] = {"job_name": f"mosebench-{cfg.name}", **slurm_parameters(cfg.cluster)}
    command = f"{shlex.quote(sys.executable)} -u -m submitit.core._submit {shlex.quote(str(folder))}"
    array = _make_sbatch_string(command=command, folder=folder, map_count=n_shards, **params)
    dep = {**{k: v for k, v in params.items() if k != "gpus_per_node"}, "dependency": "afterany:ARRAY_JOB_ID"}
    agg = _make_sbatch_string(command=command, folder=folder, **dep)
    return ["--- sbatch script: predict (job array) ---", array.rstrip(),
            "--- sbatch script: score + log (dependent job) ---", agg.rstrip()]


def describe_run(cfg: ExperimentConfig) -> str:
    """`mosebench run --dry-run`: the run directory it would use, and what it would predict there."""
    from harness.runner.driver import pending_videos, run_dir_for

    run = run_dir_for(cfg)
    pending = None
    if run.plan.is_file() and not cfg.force:  # a rerun: only what is not done yet
        pending = pending_videos(run, None)
    return describe(cfg, pending, run_dir=str(run.root))
