#!/usr/bin/env bash
# Install the Debian/Ubuntu packages of the single-node cluster when any is missing (idempotent;
# needs root or sudo). The packages' "policy-rc.d denied execution of start" lines are harmless:
# slurm/start.sh starts the daemons itself, without systemd.
set -euo pipefail
pkgs=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} == 0 ]] && exit 0
command -v apt-get >/dev/null || { echo "slurm/install.sh: no apt-get; install ${missing[*]} with your package manager" >&2; exit 1; }
SUDO=
[[ $(id -u) == 0 ]] || SUDO=sudo
echo "slurm/install.sh: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
