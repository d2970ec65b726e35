"""Regenerate ``official.json``: run the official scorers on sets from tests/support/testdata.py.

Not a test. Needs checkouts of henghuiding/MOSE-api and davisvideochallenge/davis2017-evaluation
(kept outside this repository) and a Python with their dependencies (numpy, pillow, opencv,
scikit-image, tqdm, scipy)::

    python tests/golden/metrics/make_golden.py --mose-api /tmp/ref/mose --davis /tmp/ref/davis \
        --mose-commit <sha> --davis-commit <sha>

It also writes ``official_heavy.json`` (boundary-heavy sets; ``--heavy-only`` writes just that one and
needs only the MOSE-api checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE.parents[1]))  # tests/: the generators live in tests/support

from support.testdata import (  # noqa: E402
    CaseSpec,
    HeavySpec,
    add_void_band,
    generate_case,
    generate_heavy,
    sparsify,
)

MOSE_CASES = {
    # odd sizes, tiny (2x2 / 4-pixel) to large objects, absences at the start, repeated
    # disappearance, false positives during absence, a 3-frame video, non-integer disk radii
    "mixed": CaseSpec(sizes=((61, 83), (97, 131), (240, 320), (40, 50), (180, 240), (121, 161), (360, 640)),
                      frames=(12, 20, 18, 3, 25, 16, 10), seed=11),
    "many": CaseSpec(sizes=((64, 64),) * 6 + ((150, 201),) * 4, frames=(30, 8, 17, 3, 40, 22, 9, 14, 26, 5),
                     seed=23, max_objects=5),
}
SPARSE = {"name": "sparse", "spec": CaseSpec(sizes=((120, 160), (90, 121)), frames=(31, 26), seed=5), "every": 5}
# boundary-heavy (official_heavy.json): large notched objects at up to 720p, jagged noisy predictions
HEAVY_CASES = {"heavy": HeavySpec(sizes=((720, 1280), (480, 854), (361, 643)), frames=(7, 9, 8), seed=31)}
DAVIS_CASES = {"davis": CaseSpec(sizes=((120, 160), (97, 131), (64, 64), (180, 240)), frames=(14, 9, 20, 12), seed=7),
               "davis_void": CaseSpec(sizes=((90, 120), (64, 80)), frames=(10, 8), seed=8)}


def run_mose(tools: Path, root: Path, pred: Path) -> dict:
    out = root / "official"
    subprocess.run([sys.executable, "score.py", "--meta", str(root / "meta.json"), "--ann",
                    str(root / "Annotations"), "--pred", str(pred), "--output", str(out)],
                   cwd=tools, check=True, capture_output=True)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics.pop("total_time")
    return {"metrics": metrics, "scores_txt": (out / "scores.txt").read_text()}


def run_mose_frames(tools: Path, root: Path) -> dict:
    """Unrounded per-frame values from the official ``metricsv2`` functions, called as ``score.py`` calls
    them (``db_eval_iou``; ``db_eval_boundary(bound_th=0.1, bound_mode='area')``) on the scored frames."""
    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(tools))
    from metricsv2 import db_eval_boundary, db_eval_iou

    meta = json.loads((root / "meta.json").read_text())["videos"]
    out = {}
    for vid in sorted(meta):
        names = sorted(p.name for p in (root / "Annotations" / vid).glob("*.png"))[1:-1]
        gt = np.stack([np.asarray(Image.open(root / "Annotations" / vid / n).convert("P")) for n in names])
        pred = np.stack([np.asarray(Image.open(root / "pred" / vid / n).convert("P")) for n in names])
        for obj in meta[vid]["objects"]:
            g, p = (gt == int(obj)).astype("uint8"), (pred == int(obj)).astype("uint8")
            j, _ = db_eval_iou(g, p)
            f_list_, f_list = db_eval_boundary(g, p, bound_th=0.1, bound_mode="area")
            out[f"{vid}_{obj}"] = {"J": [float(v) for v in j], "f_list": [float(v) for v in f_list],
                                   "f_list_": [float(v) for v in f_list_]}
    return out


def main_heavy(tools: Path, commit: str) -> None:
    golden: dict = {"mose_api_commit": commit, "generator": "tests/support/testdata.py generate_heavy", "mose": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in HEAVY_CASES.items():
            root = generate_heavy(Path(tmp) / name, spec)
            golden["mose"][name] = {"spec": spec.to_json(), **run_mose(tools, root, root / "pred"),
                                    "per_frame": run_mose_frames(tools, root)}
    (HERE / "official_heavy.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print("wrote", HERE / "official_heavy.json")


def run_davis(davis: Path, root: Path) -> dict:
    sys.path.insert(0, str(davis))
    from davis2017.evaluation import DAVISEvaluation

    droot = root / "davisroot"
    (droot / "Annotations").mkdir(parents=True)
    os.symlink(root / "Annotations", droot / "Annotations" / "480p")
    seqs = sorted(p.name for p in (root / "Annotations").iterdir())
    (droot / "ImageSets" / "2017").mkdir(parents=True)
    (droot / "ImageSets" / "2017" / "val.txt").write_text("\n".join(seqs) + "\n")
    res = DAVISEvaluation(str(droot), "semi-supervised", "val", sequences=seqs, codalab=True).evaluate(
        str(root / "pred"))
    j, f = res["J"], res["F"]
    names = list(j["M_per_object"])
    import numpy as np

    per_object = {n: {"J-Mean": j["M"][i], "J-Recall": j["R"][i], "J-Decay": j["D"][i], "F-Mean": f["M"][i],
                      "F-Recall": f["R"][i], "F-Decay": f["D"][i]} for i, n in enumerate(names)}
    glob = {"J&F-Mean": (np.mean(j["M"]) + np.mean(f["M"])) / 2, "J-Mean": np.mean(j["M"]),
            "J-Recall": np.mean(j["R"]), "J-Decay": np.mean(j["D"]), "F-Mean": np.mean(f["M"]),
            "F-Recall": np.mean(f["R"]), "F-Decay": np.mean(f["D"])}
    conv = lambda d: {k: float(v) for k, v in d.items()}  # noqa: E731
    return {"per_object": {k: conv(v) for k, v in per_object.items()}, "global": conv(glob)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mose-api", type=Path, required=True)
    ap.add_argument("--davis", type=Path)
    ap.add_argument("--mose-commit", required=True)
    ap.add_argument("--davis-commit")
    ap.add_argument("--heavy-only", action="store_true",
                    help="write only official_heavy.json (needs no davis2017-evaluation checkout)")
    args = ap.parse_args()
    tools = args.mose_api / "MOSEv2" / "sam2_rcms" / "tools"
    main_heavy(tools, args.mose_commit)
    if args.heavy_only:
        return
    if args.davis is None or args.davis_commit is None:
        ap.error("--davis and --davis-commit are required unless --heavy-only")
    golden: dict = {"mose_api_commit": args.mose_commit, "davis2017_evaluation_commit": args.davis_commit,
                    "generator": "tests/support/testdata.py generate_case", "mose": {}, "davis": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in MOSE_CASES.items():
            root = generate_case(Path(tmp) / name, spec)
            golden["mose"][name] = {"spec": spec.to_json(), "sparse_every": None, **run_mose(tools, root, root / "pred")}
        root = generate_case(Path(tmp) / SPARSE["name"], SPARSE["spec"])
        sparsify(root, SPARSE["every"])
        # the official scorer pairs frames by position in the prediction folder: give it GT frames only
        pred_gt_only = root / "pred_gt_frames"
        for vid_dir in (root / "Annotations").iterdir():
            (pred_gt_only / vid_dir.name).mkdir(parents=True)
            for png in vid_dir.glob("*.png"):
                shutil.copy(root / "pred" / vid_dir.name / png.name, pred_gt_only / vid_dir.name / png.name)
        golden["mose"][SPARSE["name"]] = {"spec": SPARSE["spec"].to_json(), "sparse_every": SPARSE["every"],
                                          **run_mose(tools, root, pred_gt_only)}
        for name, spec in DAVIS_CASES.items():
            root = generate_case(Path(tmp) / name, spec)
            if name == "davis_void":
                add_void_band(root)
            golden["davis"][name] = {"spec": spec.to_json(), **run_davis(args.davis, root)}
    (HERE / "official.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print("wrote", HERE / "official.json")


if __name__ == "__main__":
    main()
