#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine (root, no systemd): munged, slurmctld, slurmd,
# each in the foreground under setsid so that its PID is known and stop.sh can end exactly it.
#
# The node is this host with its real CPUs and memory (from `slurmd -C`), one fake `gpu` GRES backed
# by /dev/null (so `--gpus=1` schedules and serialises GPU jobs without a GPU), no accounting
# database (status through squeue, finished jobs kept visible for MinJobAge), and
# EnforcePartLimits=ALL so that an impossible request fails at sbatch time instead of pending forever.
# State from an earlier run is wiped first: a stale StateSaveLocation can leave the node DRAINED.
#
# Fails (exit 1, daemon logs on stderr) unless the node reaches the idle state in time.
# Afterwards: export SLURM_CONF=$RP_SLURM_DIR/slurm.conf (also written to $RP_SLURM_DIR/env).
set -euo pipefail
# shellcheck source=.ci/slurm/common.sh
source "$(dirname "$0")/common.sh"
export SLURM_CONF="$RP_SLURM_CONF"

for pidfile in "$RP_SLURM_DIR"/pid/*.pid; do
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null \
        && rp_die "a cluster from $RP_SLURM_DIR is still running ($pidfile); run .ci/slurm/stop.sh first"
done
for bin in slurmctld slurmd munged mungekey sinfo; do
    command -v "$bin" >/dev/null || rp_die "$bin not found: run .ci/slurm/install.sh first"
done

# From here on a failed start leaves nothing behind: no daemon, no /etc/slurm/slurm.conf.
trap 'status=$?; ((status == 0)) || bash "$(dirname "$0")/stop.sh"' EXIT

rm -rf "$RP_SLURM_DIR"
# munged wants execute permission for all on its socket dir and a key readable only by its owner.
mkdir -p "$(dirname "$RP_SLURM_DIR")"
mkdir -m 0755 "$RP_SLURM_DIR" "$RP_SLURM_DIR/munge"
mkdir -m 0700 "$RP_SLURM_DIR/munge/key"
mkdir -p "$RP_SLURM_DIR"/{state,spool,log,pid}

host="$(hostname -s)"
# e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
hw="$(slurmd -C | head -n 1)"
[[ "$hw" == NodeName=* ]] || rp_die "unexpected output of 'slurmd -C': $hw"
hw="${hw#NodeName=* }"
cpus="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")"

cat >"$SLURM_CONF" <<EOF
$RP_SLURM_MARKER: a single-node test cluster on $host (removed by stop.sh).
ClusterName=rpci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$RP_SLURM_CTLD_PORT
SlurmdPort=$RP_SLURM_SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$RP_SLURM_DIR/munge/munge.socket
StateSaveLocation=$RP_SLURM_DIR/state
SlurmdSpoolDir=$RP_SLURM_DIR/spool
SlurmctldPidFile=$RP_SLURM_DIR/slurmctld.pid
SlurmdPidFile=$RP_SLURM_DIR/slurmd.pid
SlurmctldLogFile=$RP_SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$RP_SLURM_DIR/log/slurmd.log
# No cgroups in a container: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: sacct cannot answer, the profile's status command is squeue, which sees finished
# jobs for MinJobAge seconds (the plugin wants >= 3x its first status delay).
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=900
EnforcePartLimits=ALL
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
KillWait=5
InactiveLimit=0
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 $hw Gres=gpu:1 State=UNKNOWN
PartitionName=$RP_SLURM_PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
# A GRES needs a device file; /dev/null stands in for the GPU (a bare Count leaves the node INVAL).
cat >"$RP_SLURM_DIR/gres.conf" <<EOF
AutoDetect=off
NodeName=$host Name=gpu File=/dev/null
EOF
echo "export SLURM_CONF=$SLURM_CONF" >"$RP_SLURM_DIR/env"
# Clients inside jobs (srun of the slurm-jobstep plugin) lose SLURM_CONF: give them the default path.
if [[ -e "$RP_SLURM_SYSTEM_CONF" ]] && ! grep -qF "$RP_SLURM_MARKER" "$RP_SLURM_SYSTEM_CONF"; then
    rp_die "$RP_SLURM_SYSTEM_CONF belongs to another SLURM installation; not overwriting it" \
        "(stop that cluster first, or move the file away)"
fi
mkdir -p "$(dirname "$RP_SLURM_SYSTEM_CONF")"
cp "$SLURM_CONF" "$RP_SLURM_SYSTEM_CONF"

# Start one daemon in the foreground of its own session; record its PID.
start_daemon() {
    local name="$1"
    shift
    setsid "$@" </dev/null >"$RP_SLURM_DIR/log/$name.out" 2>&1 &
    echo $! >"$RP_SLURM_DIR/pid/$name.pid"
    rp_log "started $name (pid $!)"
}

mungekey --create --keyfile="$RP_SLURM_DIR/munge/key/munge.key"
start_daemon munged munged --foreground \
    --socket="$RP_SLURM_DIR/munge/munge.socket" \
    --key-file="$RP_SLURM_DIR/munge/key/munge.key" \
    --seed-file="$RP_SLURM_DIR/munge/key/munged.seed" \
    --pid-file="$RP_SLURM_DIR/munge/munged.pid" \
    --log-file="$RP_SLURM_DIR/log/munged.log"
for _ in $(seq 50); do
    [[ -S "$RP_SLURM_DIR/munge/munge.socket" ]] && break
    sleep 0.1
done
munge -n -S "$RP_SLURM_DIR/munge/munge.socket" | unmunge -S "$RP_SLURM_DIR/munge/munge.socket" >/dev/null \
    || { rp_dump_logs; rp_die "munged does not answer on $RP_SLURM_DIR/munge/munge.socket"; }

# -i: ignore (the wiped) state; -D: stay in the foreground.
start_daemon slurmctld slurmctld -D -i -f "$SLURM_CONF"
start_daemon slurmd slurmd -D -f "$SLURM_CONF"

# Wait for the node to register idle with its GPU.
deadline=$((SECONDS + ${RP_SLURM_START_TIMEOUT:-60}))
state=""
while ((SECONDS < deadline)); do
    for name in munged slurmctld slurmd; do
        kill -0 "$(cat "$RP_SLURM_DIR/pid/$name.pid")" 2>/dev/null \
            || { rp_dump_logs; rp_die "$name exited during start-up (see $RP_SLURM_DIR/log)"; }
    done
    state="$(sinfo --noheader --nodes="$host" --format=%T 2>/dev/null || true)"
    [[ "$state" == idle ]] && break
    sleep 0.5
done
if [[ "$state" != idle ]]; then
    scontrol show node "$host" >&2 || true
    rp_dump_logs
    rp_die "node $host is '${state:-unreachable}', not idle, ${RP_SLURM_START_TIMEOUT:-60} s after start"
fi
gres="$(sinfo --noheader --nodes="$host" --format=%G)"
[[ "$gres" == gpu:1* ]] || { rp_dump_logs; rp_die "node $host reports GRES '$gres', expected gpu:1"; }
rp_log "cluster up: node $host idle, CPUs=$cpus, GRES $gres, partition $RP_SLURM_PARTITION;" \
    "SLURM_CONF=$SLURM_CONF"
