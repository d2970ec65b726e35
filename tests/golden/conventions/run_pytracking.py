"""Run pytracking's OWN analysis code (extract_results + plot_results.get_*_curve) on constructed
sequences. The shim only does I/O: package stubs (to skip pytracking/__init__'s tracker imports),
env settings, result files, Sequence objects. Usage: run_pytracking.py CHECKOUT SPEC.json OUT.json"""
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np

ckpt, spec_path, out_path = sys.argv[1:4]
for name, sub in (("pytracking", "pytracking"), ("pytracking.evaluation", "pytracking/evaluation"), ("pytracking.utils", "pytracking/utils")):
    m = types.ModuleType(name)
    m.__path__ = [os.path.join(ckpt, sub)]
    sys.modules[name] = m
sys.path.insert(0, ckpt)
sys.modules["tikzplotlib"] = types.ModuleType("tikzplotlib")  # plot export only, unused
work = tempfile.mkdtemp()
env = types.ModuleType("pytracking.evaluation.environment")
class _S:  # I/O: where result files and the pickle go
    result_plot_path = os.path.join(work, "plots")
env.env_settings = lambda: _S()
sys.modules["pytracking.evaluation.environment"] = env
import torch  # noqa: E402
from pytracking.analysis import extract_results as er  # noqa: E402
from pytracking.analysis.plot_results import get_auc_curve, get_prec_curve  # noqa: E402

spec = json.load(open(spec_path))
class Seq:
    def __init__(s, **kw): s.__dict__.update(kw)
class Trk:
    def __init__(s, d): s.results_dir, s.name, s.parameter_name, s.run_id, s.display_name = d, "mb", "p", None, "mb"

def shift(b):  # our 0-based (x, y, w, h) -> LaSOT's 1-based file coordinates; None -> 0,0,0,0
    return [0.0, 0.0, 0.0, 0.0] if b is None else [b[0] + 1, b[1] + 1, b[2], b[3]]

out = {"source": "visionml/pytracking", "commit": subprocess.check_output(["git", "-C", ckpt, "rev-parse", "HEAD"], text=True).strip(),
       "made_by": "pytracking/analysis/extract_results.py extract_results + plot_results.py get_auc_curve/get_prec_curve on these sequences; boxes shifted +1 (1-based, as LaSOT files) and absent = 0,0,0,0",
       "modes": {}}
for mode, dsname, use_vis in (("lasot", "lasot", True), ("pytracking", "otb", False)):
    rd = os.path.join(work, "res_" + mode)
    os.makedirs(rd)
    seqs = []
    for s in spec["sequences"]:
        np.savetxt(os.path.join(rd, s["name"] + ".txt"), np.array([shift(b) for b in s["pred"]]), delimiter="\t")
        vis = np.array([b is not None for b in s["gt"]]) if use_vis else None
        seqs.append(Seq(name=s["name"], dataset=dsname, ground_truth_rect=np.array([shift(b) for b in s["gt"]]),
                        target_visible=vis))
    ev = er.extract_results([Trk(rd)], seqs, "r_" + mode, verbose=False)
    vs = torch.tensor(ev["valid_sequence"], dtype=torch.bool)
    _, auc = get_auc_curve(torch.tensor(ev["ave_success_rate_plot_overlap"]), vs)
    _, p = get_prec_curve(torch.tensor(ev["ave_success_rate_plot_center"]), vs)
    _, pn = get_prec_curve(torch.tensor(ev["ave_success_rate_plot_center_norm"]), vs)
    per = {}
    for i, s in enumerate(spec["sequences"]):
        one = torch.zeros(len(seqs), dtype=torch.bool)
        one[i] = True
        per[s["name"]] = {"AUC": float(get_auc_curve(torch.tensor(ev["ave_success_rate_plot_overlap"]), one)[1][0]),
                          "P": float(get_prec_curve(torch.tensor(ev["ave_success_rate_plot_center"]), one)[1][0]),
                          "P_norm": float(get_prec_curve(torch.tensor(ev["ave_success_rate_plot_center_norm"]), one)[1][0])}
    out["modes"][mode] = {"AUC": float(auc[0]), "P": float(p[0]), "P_norm": float(pn[0]), "per_sequence": per}
json.dump(out, open(out_path, "w"), indent=1)
print(json.dumps({k: {kk: v[kk] for kk in ("AUC", "P", "P_norm")} for k, v in out["modes"].items()}))
