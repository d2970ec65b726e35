"""Run davisinteractive's OWN summary (EvaluationService.summarize_report over a LocalStorage report)
on a constructed interactive result. Shim = I/O only: the service object is built without its DAVIS
download (attributes set as its __init__ would for these sequences), Davis.dataset gets the
constructed sequences' object counts, numpy's removed np.float/np.trapz aliases are restored.
Usage: run_davisinteractive.py PKGDIR SPEC.json OUT.json"""
import json
import sys

pkg, spec_path, out_path = sys.argv[1:4]
sys.path.insert(0, pkg)
import numpy as np  # noqa: E402

np.float = float
np.int = int
if not hasattr(np, "trapz"):
    np.trapz = np.trapezoid
import types  # noqa: E402

# the metric/robot modules (cv2, skimage) are not used by summarize_report: empty stand-ins
for name, attrs in (("davisinteractive.metrics", ("batched_f_measure", "batched_jaccard")),
                    ("davisinteractive.robot", ("InteractiveScribblesRobot",))):
    m = types.ModuleType(name)
    for a in attrs:
        setattr(m, a, None)
    sys.modules[name] = m
from davisinteractive.dataset.davis import Davis  # noqa: E402
from davisinteractive.evaluation.service import EvaluationService  # noqa: E402
from davisinteractive.storage import LocalStorage  # noqa: E402

spec = json.load(open(spec_path))
opt = spec["options"]
st = LocalStorage()
for v in spec["videos"]:
    Davis.dataset[v["name"]] = {"num_scribbles": 1, "num_objects": len(v["objects"]), "num_frames": v["n_frames"]}
    for r in v["rounds"]:
        if not r["counted"]:
            continue  # a timed-out interaction is never submitted in davisinteractive
        objs, frames, js, fs = [], [], [], []
        for k, o in enumerate(v["objects"], start=1):
            for t, (j, f) in enumerate(r["per_frame"][str(o)]):
                objs.append(k)
                frames.append(t)
                js.append(j)
                fs.append(f)
        st.store_interactions_results(None, "s", v["name"], 1, r["interaction"], r["time_s"], objs, frames, js, fs)
svc = EvaluationService.__new__(EvaluationService)
svc.sequences = [v["name"] for v in spec["videos"]]
svc.max_i = opt["max_interactions"]
svc.max_t = opt["max_interactions"] * opt["seconds_per_object_interaction"]
svc.metric_to_optimize = "J_AND_F"
svc.time_threshold = opt["time_threshold_s"]
svc.avg_nb_objects = sum(len(v["objects"]) for v in spec["videos"]) / len(spec["videos"])
rep = svc.summarize_report(st.get_report(session_id="s"))

out = {"source": "davisinteractive 1.0.4 (PyPI sdist; github davisvideochallenge/davis-interactive)",
       "made_by": "davisinteractive.evaluation.service.EvaluationService.summarize_report on a LocalStorage report of these results",
       "AUC": float(rep["auc"]), "JF_at_threshold": float(rep["metric_at_threshold"]["J_AND_F"]),
       "curve_time": rep["curve"]["time"], "curve_JF": rep["curve"]["J_AND_F"]}
json.dump(out, open(out_path, "w"), indent=1)
print(json.dumps(out))
