#!/usr/bin/env bash
# Create LoRAT's environment (LitingLin/LoRAT, package trackit) from its checkout, for mosebench's
# out-of-process method `lorat` (docs/trackers_lorat.md).
#
#   scripts/make_lorat_env.sh CHECKOUT ENV_DIR [--python PY] [--torch SPEC] [--base-site DIR]
#
#   CHECKOUT   the LoRAT checkout (main.py, config/, trackit/)
#   ENV_DIR    the venv to create; its bin/python is what method.python names
#   --python   interpreter the venv is made from (default: python3)
#   --torch    pip spec of torch to install (default "torch"; with it the matching torchvision)
#   --base-site DIR  do not install torch: reuse torch (and numpy, pillow, vot-trax, ...) from another
#              environment's site-packages DIR (a .pth file); torchvision then comes as 0.15.2 without
#              its ops when that environment's torchvision does not import (a CPU-only torch with
#              PyPI's CUDA torchvision; LoRAT's tracking path needs only its pure-Python Normalize)
#
# Needs Debian's libturbojpeg0 (apt-get install libturbojpeg0): PyTurboJPEG<2 decodes with it, as
# the original does. The checkout is never edited.
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage
CHECKOUT=$1; ENV=$2; shift 2
PY=python3; TORCH=torch; BASE_SITE=""
while [ $# -gt 0 ]; do
  case $1 in
    --python) PY=$2; shift 2;;
    --torch) TORCH=$2; shift 2;;
    --base-site) BASE_SITE=$2; shift 2;;
    *) echo "unknown option $1" >&2; usage;;
  esac
done
[ -f "$CHECKOUT/main.py" ] && [ -d "$CHECKOUT/trackit" ] || {
  echo "$CHECKOUT has no main.py and trackit/: give the LoRAT checkout" >&2; exit 2; }
ldconfig -p | grep -q 'libturbojpeg\.so' || {
  echo "libturbojpeg is missing: apt-get install libturbojpeg0 (the original decodes frames with TurboJPEG)" >&2; exit 2; }

# the checkout's requirements.txt, with the pins that matter here (docs/trackers_lorat.md)
REQS="vot-trax==4.0.2 PyTurboJPEG<2 timm safetensors tabulate pyyaml pillow psutil tqdm matplotlib wandb fvcore exifread pyzmq"

"$PY" -m venv "$ENV"
PIP=("$ENV/bin/python" -m pip install -q)
if [ -n "$BASE_SITE" ]; then
  SITE=$("$ENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$BASE_SITE" > "$SITE/zz_base_env.pth"   # after the venv's own packages: its pins win
  "${PIP[@]}" $REQS
  if ! "$ENV/bin/python" -c 'import torchvision' >/dev/null 2>&1; then
    "${PIP[@]}" --no-deps torchvision==0.15.2
  fi
else
  "${PIP[@]}" "$TORCH" torchvision $REQS
fi
"$ENV/bin/python" - "$CHECKOUT" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import torch, torchvision, trax, turbojpeg  # noqa: E401
turbojpeg.TurboJPEG()
import trackit.core.boot.main  # noqa: F401 - the entry point's imports (wandb, exifread, ...)
print(f"ok: torch {torch.__version__}, torchvision {torchvision.__version__}, PyTurboJPEG {turbojpeg.__version__}")
EOF
echo "method.python=$ENV/bin/python method.repo=$CHECKOUT"
