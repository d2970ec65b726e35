#!/usr/bin/env bash
# Create the environment of an OSTrack-family tracker (seqtrack, aqatrack, odtrack, sutrack) from its
# checkout, for mosebench's out-of-process methods (docs/trackers.md).
#
#   scripts/make_tracker_env.sh TRACKER CHECKOUT ENV_DIR [--python PY] [--torch SPEC] [--base-site DIR]
#
#   TRACKER    seqtrack | aqatrack | odtrack | sutrack
#   CHECKOUT   the folder with lib/ and experiments/ (SeqTrack: VideoX/SeqTrack)
#   ENV_DIR    the venv to create; its bin/python is what method.python names
#   --python   interpreter the venv is made from (default: python3)
#   --torch    pip spec of torch to install (default "torch"; e.g. "torch==2.5.1" or a CUDA wheel)
#   --base-site DIR  do not install torch: reuse the torch/numpy/opencv/vot-trax of another
#              environment's site-packages DIR (a .pth file; for CPU checks on a machine that has one)
#
# The checkout is never edited: what a modern torch breaks (torch._six, visdom, hard-coded .cuda(),
# torch.load's weights_only default) is shimmed at run time by harness/trax_ostrack_server.py.
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 3 ] || usage
TRACKER=$1; CHECKOUT=$2; ENV=$3; shift 3
PY=python3; TORCH=torch; BASE_SITE=""
while [ $# -gt 0 ]; do
  case $1 in
    --python) PY=$2; shift 2;;
    --torch) TORCH=$2; shift 2;;
    --base-site) BASE_SITE=$2; shift 2;;
    *) echo "unknown option $1" >&2; usage;;
  esac
done

# Per-tracker pins (upstream's install.sh / requirements.txt, reduced to what the test path imports).
# timm: SeqTrack, ODTrack and SUTrack pin 0.5.4 (their vit/hivit/itpn code uses its old layer API);
# AQATrack's requirements.txt pins 0.9.16, which still has those names (0.5.4 also works).
COMMON="vot-trax==4.0.2 opencv-python-headless numpy easydict PyYAML"
# imported on the test path through lib.train (upstream install.sh installs them): jpeg4py, lmdb
REACHED="jpeg4py lmdb"
case $TRACKER in
  seqtrack) PINS="timm==0.5.4 yacs"; TEST=lib/test/tracker/seqtrack.py;;
  aqatrack) PINS="timm==0.9.16"; TEST=lib/test/tracker/aqatrack.py;;
  odtrack)  PINS="timm==0.5.4 einops"; TEST=lib/test/tracker/odtrack.py;;
  sutrack)  PINS="timm==0.5.4 ftfy regex"; TEST=lib/test/tracker/sutrack.py;;
  *) echo "unknown tracker '$TRACKER' (seqtrack, aqatrack, odtrack, sutrack)" >&2; exit 2;;
esac
[ -f "$CHECKOUT/$TEST" ] || { echo "$CHECKOUT has no $TEST: give the $TRACKER checkout (SeqTrack: VideoX/SeqTrack)" >&2; exit 2; }

"$PY" -m venv "$ENV"
PIP=("$ENV/bin/python" -m pip install -q)
if [ -n "$BASE_SITE" ]; then
  # torch and friends from another environment; only the tracker's own pure-Python pins here
  SITE=$("$ENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$BASE_SITE" > "$SITE/zz_base_env.pth"
  "${PIP[@]}" --no-deps $PINS $REACHED easydict
else
  "${PIP[@]}" "$TORCH" torchvision $COMMON
  "${PIP[@]}" $PINS $REACHED
fi
if [ "$TRACKER" = sutrack ]; then
  # SUTrack's text branch imports OpenAI's `clip` (not on PyPI): from its repository, and at build it
  # loads ViT-L/14 (clip.load downloads ~890 MB into ~/.cache/clip unless the file is there already).
  echo "sutrack: also install OpenAI CLIP (pip install git+https://github.com/openai/CLIP) and place ViT-L-14.pt in ~/.cache/clip" >&2
fi
"$ENV/bin/python" - "$CHECKOUT" <<'EOF'
import importlib, importlib.metadata as md, sys
for mod in ("torch", "easydict", "cv2", "trax"):  # timm imports torchvision: checked by the server's shims
    importlib.import_module(mod)
print("ok:", sys.executable, "torch", md.version("torch"), "timm", md.version("timm"))
EOF
