"""Run davis2017-evaluation's OWN unsupervised evaluation (DAVISEvaluation(task="unsupervised").evaluate)
on the set of tests/_unsupervised_oracle_data.py; the global row is formed as its evaluation_method.py
does (without the CSV's 3-decimal rounding). Usage: run_davis2017_unsupervised.py CHECKOUT WORKDIR OUT.json"""
import json
import subprocess
import sys
from pathlib import Path

ckpt, work, out_path = sys.argv[1:4]
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/ for the data builder
sys.path.insert(0, ckpt)
import numpy as np  # noqa: E402
from _unsupervised_oracle_data import build  # noqa: E402
from davis2017.evaluation import DAVISEvaluation  # noqa: E402

root, res = build(work)
m = DAVISEvaluation(davis_root=str(root), task="unsupervised", gt_set="val").evaluate(str(res))
J, F = m["J"], m["F"]
out = {"source": "davisvideochallenge/davis2017-evaluation",
       "commit": subprocess.check_output(["git", "-C", ckpt, "rev-parse", "HEAD"], text=True).strip(),
       "made_by": "davis2017.evaluation.DAVISEvaluation(task='unsupervised').evaluate; global row as evaluation_method.py",
       "global": {"J&F-Mean": float((np.mean(J["M"]) + np.mean(F["M"])) / 2), "J-Mean": float(np.mean(J["M"])),
                  "J-Recall": float(np.mean(J["R"])), "J-Decay": float(np.mean(J["D"])),
                  "F-Mean": float(np.mean(F["M"])), "F-Recall": float(np.mean(F["R"])), "F-Decay": float(np.mean(F["D"]))},
       "per_object_J_F_mean": {k: [float(J["M_per_object"][k]), float(F["M_per_object"][k])] for k in J["M_per_object"]},
       "note": "per-object keys are davis2017-evaluation's own <seq>_<i>: i counts the matched pairs in proposal order"}
json.dump(out, open(out_path, "w"), indent=1)
print(json.dumps(out["global"]))
