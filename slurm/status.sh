#!/usr/bin/env bash
# Is the private cluster up? Prints each daemon's pid (from its pid file), the node and the queue.
# Exit status 0 when every daemon runs and the node answers, 1 otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
ok=0
echo "state folder: $STATE"
echo "export SLURM_CONF=$SLURM_CONF"
for d in "${DAEMONS[@]}"; do
    pid=$(daemon_pid "$d")
    if [[ -n $pid ]]; then
        echo "$d: running (pid $pid)"
    else
        echo "$d: not running"; ok=1
    fi
done
if [[ $ok == 0 ]]; then
    sinfo -N -o '%N %T %C %G' || ok=1
    squeue || ok=1
fi
exit $ok
