#!/usr/bin/env bash
# Installs Debian's pdflatex (texlive-latex-base) for the `mosebench report --format tex` compile test
# (tests/test_report_cli.py::test_latex_compiles). Idempotent: does nothing when pdflatex is on PATH.
# Needs root (apt-get); without root it only prints a hint and the test skips itself (and fails under
# `make test`, MOSEBENCH_REQUIRE=all).
set -euo pipefail
if command -v pdflatex >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "install_latex.sh: not root; install Debian's 'texlive-latex-base' to run the LaTeX compile test" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends texlive-latex-base >/dev/null
command -v pdflatex
