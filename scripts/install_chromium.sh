#!/usr/bin/env bash
# Installs Debian's headless-capable chromium for the MLflow UI browser test (tests/test_mlflow_ui.py).
# Idempotent: does nothing when chromium is already on PATH. Needs root (apt-get); without root it
# only prints a hint and the browser test skips itself (and fails under `make test`,
# MOSEBENCH_REQUIRE=all).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "install_chromium.sh: not root; install Debian's 'chromium' to run the MLflow UI browser test" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
