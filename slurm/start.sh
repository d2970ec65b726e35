#!/usr/bin/env bash
# Start (or find running) the project's private single-node SLURM cluster: munged, MariaDB,
# slurmdbd, slurmctld and slurmd, all state under one folder (see slurm/lib.sh), as root, no systemd.
# Idempotent: daemons already running from this state folder are kept. Waits until the node is idle
# and fails loudly with the log tails otherwise. Prints `export SLURM_CONF=...` on stdout.
#
# Environment: MOSEBENCH_SLURM_DIR (state folder), MOSEBENCH_SLURM_TIMEOUT (seconds to wait for each
# step, 60), and the node's declared size: MOSEBENCH_SLURM_CPUS (64), MOSEBENCH_SLURM_MEM_MB (262144),
# MOSEBENCH_SLURM_GPUS (16); MOSEBENCH_SLURM_PORT_BASE: the first of four consecutive TCP ports tried
# for slurmctld, slurmd, slurmdbd and MariaDB (default 7817-7819 and 3307; a busy one is replaced by a
# free random port). The node is declared larger than the machine on purpose (nothing enforces it: no
# cgroups), so that `cluster=slurm` with its real defaults (8 CPUs, 32G, 1 GPU per shard)
# schedules several shards at once on a laptop or a CI runner.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TIMEOUT=${MOSEBENCH_SLURM_TIMEOUT:-60}
CPUS=${MOSEBENCH_SLURM_CPUS:-64}
MEM_MB=${MOSEBENCH_SLURM_MEM_MB:-262144}
GPUS=${MOSEBENCH_SLURM_GPUS:-16}
CLUSTER=mosebench

die() {
    log "ERROR: $*"
    dump_logs 30
    log "state folder: $STATE"
    exit 1
}

[[ $(id -u) == 0 ]] || die "must run as root (SlurmUser=root, fake GPU device nodes); try: sudo $0"
for bin in munged mungekey munge unmunge mariadbd mariadb-install-db slurmdbd slurmctld slurmd sinfo sacctmgr; do
    command -v "$bin" >/dev/null || [[ -x /usr/sbin/$bin ]] || \
        die "'$bin' is missing: run slurm/install.sh (or: make system-deps)"
done
export PATH=$PATH:/usr/sbin:/sbin
(( ${#STATE} < 80 )) || die "state folder path '$STATE' is too long for UNIX sockets: set MOSEBENCH_SLURM_DIR"

mkdir -p "$STATE"
chmod 755 "$STATE"
exec 9>"$STATE/start.lock"
flock -w "$TIMEOUT" 9 || die "another slurm/start.sh holds $STATE/start.lock"

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s.
wait_for() {
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        (( SECONDS < deadline )) || die "timed out after ${secs}s waiting for $what"
        sleep 0.2
    done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports: 7817-7819 (SLURM's defaults + 1000, to keep clear of a real SLURM) and 3307 when free, otherwise any free port; kept while the daemon
# that owns them runs, so that a second start.sh finds the same cluster.
pick_port() {
    local want=$1 p
    if ! port_busy "$want"; then echo "$want"; return; fi
    for p in $(shuf -i 20000-40000 -n 50); do
        if ! port_busy "$p"; then echo "$p"; return; fi
    done
}

running_any=0
for d in "${DAEMONS[@]}"; do [[ -n $(daemon_pid "$d") ]] && running_any=1; done
if [[ $running_any == 1 && -s $STATE/ports.env ]]; then
    source "$STATE/ports.env"
else
    if [[ -n ${MOSEBENCH_SLURM_PORT_BASE:-} ]]; then
        base=$MOSEBENCH_SLURM_PORT_BASE
        [[ $base =~ ^[0-9]+$ ]] && (( base >= 1024 && base <= 65532 )) \
            || die "MOSEBENCH_SLURM_PORT_BASE='$base' is not a port number in 1024-65532"
        CTLD_PORT=$(pick_port "$base"); SLURMD_PORT=$(pick_port $((base + 1)))
        DBD_PORT=$(pick_port $((base + 2))); MYSQL_PORT=$(pick_port $((base + 3)))
    else
        CTLD_PORT=$(pick_port 7817)
        SLURMD_PORT=$(pick_port 7818)
        DBD_PORT=$(pick_port 7819)
        MYSQL_PORT=$(pick_port 3307)
    fi
    [[ -n $CTLD_PORT && -n $SLURMD_PORT && -n $DBD_PORT && -n $MYSQL_PORT ]] || die "no free TCP ports found"
    printf 'CTLD_PORT=%s\nSLURMD_PORT=%s\nDBD_PORT=%s\nMYSQL_PORT=%s\n' \
        "$CTLD_PORT" "$SLURMD_PORT" "$DBD_PORT" "$MYSQL_PORT" > "$STATE/ports.env"
fi

mkdir -p "$ETC" "$RUN" "$LOG" "$STATE/ctld" "$STATE/spool" "$STATE/dev" "$RUN/munge" "$RUN/mysql" "$STATE/mysql"
chown munge:munge "$RUN/munge"; chmod 755 "$RUN/munge"
chown mysql:mysql "$RUN/mysql" "$STATE/mysql"; chmod 750 "$STATE/mysql"
touch "$LOG/munged.log" "$LOG/mariadb.log"
chown munge:munge "$LOG/munged.log"; chown mysql:mysql "$LOG/mariadb.log"

if [[ ! -s $ETC/db.pass ]]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$ETC/db.pass")
fi
DB_PASS=$(cat "$ETC/db.pass")

# Fake GPUs: character devices with the numbers of /dev/null.
for ((i = 0; i < GPUS; i++)); do
    [[ -c $STATE/dev/nvidia$i ]] || mknod -m 666 "$STATE/dev/nvidia$i" c 1 3
done

NODE=$(slurmd -C | sed -n 's/^NodeName=\([^ ]*\).*/\1/p')
[[ -n $NODE ]] || die "slurmd -C printed no NodeName"
MEM_PER_CPU=$((MEM_MB / CPUS < 1024 ? MEM_MB / CPUS : 1024))

render() {
    sed -e "s|@STATE@|$STATE|g" -e "s|@RUN@|$RUN|g" -e "s|@LOG@|$LOG|g" -e "s|@NODE@|$NODE|g" \
        -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" \
        -e "s|@DBD_PORT@|$DBD_PORT|g" -e "s|@MYSQL_PORT@|$MYSQL_PORT|g" -e "s|@DB_PASS@|$DB_PASS|g" \
        -e "s|@CPUS@|$CPUS|g" -e "s|@GPUS@|$GPUS|g" -e "s|@GPU_MAX@|$((GPUS - 1))|g" \
        -e "s|@MEM_MB@|$MEM_MB|g" -e "s|@MUNGE_SOCKET@|$MUNGE_SOCKET|g" -e "s|@MEM_PER_CPU@|$MEM_PER_CPU|g" \
        "$SLURM_SRC_DIR/templates/$1.in" > "$ETC/$1.tmp"
    chmod "$2" "$ETC/$1.tmp"
    mv -f "$ETC/$1.tmp" "$ETC/$1"
}
render slurm.conf 644
render gres.conf 644
render slurmdbd.conf 600
# Jobs and clients find the private cluster through SLURM_CONF; keep the distro's plugstack.
[[ -e /etc/slurm/plugstack.conf ]] || { mkdir -p /etc/slurm; : > /etc/slurm/plugstack.conf; }

t0=$SECONDS
# 1. The cluster's own munged: own key and socket under the state folder (slurm.conf and slurmdbd.conf
#    name the socket: AuthInfo=socket=... for the daemons and clients, AccountingStoragePass=... for
#    the clients' and slurmctld's connections to slurmdbd). Nothing is shared with another cluster or
#    with the system's munged, so stop.sh stops only what this cluster uses.
munge_ok() { munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET" >/dev/null; }
if [[ ! -s $MUNGE_KEY ]]; then
    mkdir -p "$MUNGE_DIR"
    mungekey -c -f -k "$MUNGE_KEY.tmp" || die "mungekey could not create $MUNGE_KEY"
    chown munge:munge "$MUNGE_KEY.tmp"; chmod 600 "$MUNGE_KEY.tmp"
    mv -f "$MUNGE_KEY.tmp" "$MUNGE_KEY"
fi
chown munge:munge "$MUNGE_DIR" "$MUNGE_KEY"; chmod 700 "$MUNGE_DIR"
if [[ -z $(daemon_pid munged) ]]; then
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" \
        --pid-file="$PIDFILE_munged" --log-file="$LOG/munged.log" --seed-file="$MUNGE_DIR/munged.seed" 9>&- \
        || die "munged did not start"
fi
wait_for "$TIMEOUT" "munged on $MUNGE_SOCKET" munge_ok

# 2. A private MariaDB for the accounting database.
mysql_cli() { mariadb --no-defaults --socket="$RUN/mysql/mysql.sock" -u root "$@"; }
if [[ -z $(daemon_pid mariadbd) ]]; then
    if [[ ! -d $STATE/mysql/data/mysql ]]; then
        log "initialising MariaDB in $STATE/mysql/data"
        rm -rf "$STATE/mysql/data"
        mariadb-install-db --no-defaults --user=mysql --datadir="$STATE/mysql/data" --skip-test-db \
            --auth-root-authentication-method=normal > "$STATE/mariadb-install.out" 2>&1 9>&- \
            || die "mariadb-install-db failed (see $STATE/mariadb-install.out)"
    fi
    rm -f "$RUN/mysql/mysql.sock"
    setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$STATE/mysql/data" \
        --socket="$RUN/mysql/mysql.sock" --pid-file="$PIDFILE_mariadbd" --log-error="$LOG/mariadb.log" \
        --bind-address=127.0.0.1 --port="$MYSQL_PORT" --skip-name-resolve \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --performance-schema=OFF \
        < /dev/null > /dev/null 2>&1 9>&- &
fi
wait_for "$TIMEOUT" "MariaDB on $RUN/mysql/mysql.sock" mysql_cli -e "SELECT 1"
mysql_cli <<SQL || die "could not create the accounting database user"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL

# 3. slurmdbd, then the cluster and an account in it (sacctmgr -i: no prompt).
if [[ -z $(daemon_pid slurmdbd) ]]; then
    slurmdbd 9>&- || die "slurmdbd did not start"
fi
wait_for "$TIMEOUT" "slurmdbd on port $DBD_PORT" sacctmgr -n show cluster
if [[ -z $(sacctmgr -n -P show cluster format=cluster where cluster=$CLUSTER) ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr add cluster failed"
fi
if [[ -z $(sacctmgr -n -P show account format=account where account=mosebench) ]]; then
    sacctmgr -i add account mosebench cluster="$CLUSTER" Description=tests Organization=mosebench >/dev/null \
        || die "sacctmgr add account failed"
    sacctmgr -i add user root account=mosebench cluster="$CLUSTER" >/dev/null || die "sacctmgr add user failed"
fi

# 4. slurmctld and slurmd (both daemonise and write their pid files).
if [[ -z $(daemon_pid slurmctld) ]]; then
    slurmctld 9>&- || die "slurmctld did not start"
    # A test session starting the cluster marks it, so that `stop.sh --if-tests-own-it` stops it when
    # the last session leaves (a cluster started by hand carries no mark and is left running).
    if [[ -n ${MOSEBENCH_SLURM_OWNER:-} ]]; then echo "$MOSEBENCH_SLURM_OWNER" > "$STATE/owner"; fi
else
    scontrol reconfigure >/dev/null 2>&1 || true
fi
wait_for "$TIMEOUT" "slurmctld on port $CTLD_PORT" scontrol ping
if [[ -z $(daemon_pid slurmd) ]]; then
    slurmd 9>&- || die "slurmd did not start"
fi

# 5. The node must come up idle (or mixed/allocated with jobs); a drain reason survives restarts.
node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1; }
deadline=$((SECONDS + TIMEOUT))
while :; do
    st=$(node_state)
    case $st in
        idle|mixed|allocated) break ;;
        drain*|drained|down*|invalid*|fail*)
            scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    (( SECONDS < deadline )) || die "node $NODE is '${st:-unknown}' after ${TIMEOUT}s, not idle ($(sinfo -h -R 2>/dev/null))"
    sleep 0.3
done
log "cluster '$CLUSTER' up in $((SECONDS - t0))s: node $NODE $st, $CPUS CPUs, $GPUS fake GPUs; state in $STATE"
echo "export SLURM_CONF=$SLURM_CONF"
