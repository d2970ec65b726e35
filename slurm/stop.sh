#!/usr/bin/env bash
# Stop the private cluster started by slurm/start.sh: cancel its jobs, then stop the daemons by the
# pids in their pid files (never by process name), in the order slurmd, slurmctld, slurmdbd,
# mariadbd, munged (the cluster's own, on its own socket: stopping it affects no other cluster).
# Keeps the state folder (accounting DB, job ids, munge key) unless --purge is given.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
# --purge: also delete the state folder. --if-tests-own-it: stop only a cluster that a test session
# started (marker file `owner`) and that no live test session still holds (lease files named by pid).
purge=0
# Serialised with start.sh (same lock): a test session that takes its lease and then runs start.sh
# either sees the cluster kept or starts it again after this stop, never a half-stopped one.
if [[ -d $STATE ]]; then
    exec 9>"$STATE/start.lock"
    flock -w 120 9 || { log "ERROR: slurm/start.sh holds $STATE/start.lock for 120 s"; exit 1; }
fi
case ${1:-} in
    --purge) purge=1 ;;
    --if-tests-own-it)
        [[ -f $STATE/owner ]] || exit 0
        for lease in "$STATE"/leases/*; do
            [[ -e $lease ]] || continue
            pid=${lease##*/}
            if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                log "cluster still used by test session $pid: left running"
                exit 0
            fi
            rm -f "$lease"
        done ;;
    "") ;;
    *) echo "usage: $0 [--purge|--if-tests-own-it]" >&2; exit 2 ;;
esac

if [[ -n $(daemon_pid slurmctld) ]]; then
    # Jobs first: with proctrack/linuxproc their processes would outlive slurmd.
    jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
    if [[ -n ${jobs// } ]]; then
        log "cancelling jobs: $jobs"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null || true
        for _ in $(seq 1 50); do
            [[ -z $(squeue -h -t R,CG -o %A 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
fi

stop_daemon() {
    local name=$1 pid i
    pid=$(daemon_pid "$name")
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        [[ -d /proc/$pid ]] || { log "stopped $name ($pid)"; return 0; }
        sleep 0.1
    done
    log "$name ($pid) ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

for ((k = ${#DAEMONS[@]} - 1; k >= 0; k--)); do
    stop_daemon "${DAEMONS[k]}"
done
rm -f "$STATE/owner"
if [[ $purge == 1 && -d $STATE ]]; then
    rm -rf "$STATE"
    log "removed $STATE"
fi
exit 0
