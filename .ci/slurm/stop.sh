#!/usr/bin/env bash
# Stop the cluster started by start.sh: cancel its jobs, then end slurmd, slurmctld and munged by the
# PIDs start.sh recorded (SIGTERM, SIGKILL after 15 s), and remove the run directory.
# Safe to call twice or when nothing runs. Exit status 1 if a daemon would not die.
set -uo pipefail
# shellcheck source=.ci/slurm/common.sh
source "$(dirname "$0")/common.sh"
export SLURM_CONF="$RP_SLURM_CONF"

# The copy for clients first: a slurm.conf without a controller slows every client down.
if [[ -f "$RP_SLURM_SYSTEM_CONF" ]] && grep -qF "$RP_SLURM_MARKER" "$RP_SLURM_SYSTEM_CONF"; then
    rm -f "$RP_SLURM_SYSTEM_CONF"
fi
[[ -d "$RP_SLURM_DIR" ]] || exit 0

alive() { [[ -f "$RP_SLURM_DIR/pid/$1.pid" ]] && kill -0 "$(cat "$RP_SLURM_DIR/pid/$1.pid")" 2>/dev/null; }

if alive slurmctld && [[ -f "$SLURM_CONF" ]]; then
    # Jobs first: their slurmstepd processes outlive slurmd.
    jobs="$(timeout 10 squeue --noheader --format=%i --states=PENDING,RUNNING,SUSPENDED,COMPLETING 2>/dev/null)"
    if [[ -n "$jobs" ]]; then
        rp_log "cancelling jobs: $(tr '\n' ' ' <<<"$jobs")"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs || true
        for _ in $(seq 30); do
            [[ -z "$(timeout 10 squeue --noheader --format=%i --states=RUNNING,COMPLETING 2>/dev/null)" ]] && break
            sleep 1
        done
    fi
fi

status=0
for name in slurmd slurmctld munged; do
    alive "$name" || continue
    pid="$(cat "$RP_SLURM_DIR/pid/$name.pid")"
    kill -TERM "$pid"
    for _ in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        rp_log "$name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
        kill -KILL "$pid"
        sleep 1
        kill -0 "$pid" 2>/dev/null && { rp_log "ERROR: $name (pid $pid) still alive"; status=1; }
    fi
    rp_log "stopped $name (pid $pid)"
done
((status == 0)) && rm -rf "$RP_SLURM_DIR"
exit "$status"
