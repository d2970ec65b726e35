# shellcheck shell=bash
# Shared settings of slurm/start.sh, stop.sh and env.sh (sourced, not executed).
#
# Every file of the cluster (configs, state, logs, sockets, the MariaDB data) lives under one state
# folder, by default one per checkout so that two clones on one machine never share a cluster:
#   ${TMPDIR:-/tmp}/mosebench-slurm-<8 hex digits of the checkout path>
# Override it with MOSEBENCH_SLURM_DIR (keep it short: UNIX socket paths are limited to 107 bytes,
# and the `mysql` and `munge` users must be able to traverse every parent folder).

SLURM_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SLURM_SRC_DIR")
_repo_hash=$(printf '%s' "$REPO_ROOT" | md5sum | cut -c1-8)
STATE=${MOSEBENCH_SLURM_DIR:-${TMPDIR:-/tmp}/mosebench-slurm-$_repo_hash}
ETC=$STATE/etc
RUN=$STATE/run
LOG=$STATE/log
export SLURM_CONF=$ETC/slurm.conf
# The cluster's own munged: its own key and socket, never the system's /run/munge one, so that stopping
# this cluster can never take authentication away from another cluster (or the machine's SLURM).
MUNGE_DIR=$STATE/munge
MUNGE_KEY=$MUNGE_DIR/munge.key
MUNGE_SOCKET=$RUN/munge/munge.socket.2

# pid files, in the order start.sh starts the daemons (stop.sh walks it backwards)
PIDFILE_munged=$RUN/munge/munged.pid
PIDFILE_mariadbd=$RUN/mysql/mariadbd.pid
PIDFILE_slurmdbd=$RUN/slurmdbd.pid
PIDFILE_slurmctld=$RUN/slurmctld.pid
PIDFILE_slurmd=$RUN/slurmd.pid
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)

log() { printf '[slurm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# pid of a running daemon from its pid file, or nothing. The command name of the process is
# compared so that a recycled pid is never mistaken for (or signalled as) our daemon.
daemon_pid() {
    local name=$1 file pid comm
    file=PIDFILE_$name
    file=${!file}
    [[ -s $file ]] || return 0
    pid=$(tr -dc '0-9' < "$file")
    [[ -n $pid && -r /proc/$pid/comm ]] || return 0
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    [[ $comm == "$name" ]] || return 0
    # a munged counts only when it serves this cluster's socket (one started by an older start.sh on
    # the system socket may serve other clusters too: never ours to stop)
    if [[ $name == munged ]]; then
        tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--socket=$MUNGE_SOCKET" || return 0
    fi
    echo "$pid"
    return 0
}

# Last lines of every log, for loud failures.
dump_logs() {
    local f
    for f in "$LOG"/*.log; do
        [[ -s $f ]] || continue
        echo "----- tail of $f -----" >&2
        tail -n "${1:-25}" "$f" >&2
    done
}
