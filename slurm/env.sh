#!/usr/bin/env bash
# Print the shell line that points SLURM clients at the private cluster:  eval "$(slurm/env.sh)"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
echo "export SLURM_CONF=$SLURM_CONF"
