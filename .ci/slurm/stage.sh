#!/usr/bin/env bash
# CI stage "slurm": install SLURM + the executor plugin (own venv), start a single-node cluster, run
# tests/test_slurm.py against it with the plugin's interpreter, stop the cluster (also on failure or
# interruption). Fails loudly if anything cannot be installed or started, or if a test is skipped.
#
#   bash .ci/slurm/stage.sh          # from the repository root; about 5-10 min on 2 cores
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=.ci/slurm/common.sh
source "$here/common.sh"
cd "$RP_REPO"
started=$SECONDS

report="$(mktemp -d)"
finish() {
    local status=$?
    if ((status != 0)) && [[ -d "$RP_SLURM_DIR/log" ]]; then
        rp_log "stage failed (exit $status); daemon logs follow"
        rp_dump_logs
    fi
    bash "$here/stop.sh" || status=1
    rm -rf "$report"
    rp_log "stage finished in $((SECONDS - started)) s with exit $status"
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

bash "$here/install.sh"
t=$SECONDS
bash "$here/start.sh"
rp_log "install + start took $((SECONDS - started)) s (start alone $((SECONDS - t)) s)"

export SLURM_CONF="$RP_SLURM_CONF" RESIDUAL_PITFALLS_SLURM=up MPLBACKEND=Agg
t=$SECONDS
# SIGINT first: snakemake's SLURM executor cancels its jobs on SIGINT, not on SIGTERM.
timeout -s INT -k 120 "${RP_SLURM_STAGE_TIMEOUT:-3000}" \
    "$RP_SLURM_VENV/bin/python" -m pytest -q -rs -p no:cacheprovider \
    --junitxml="$report/junit.xml" tests/test_slurm.py
rp_log "tests/test_slurm.py took $((SECONDS - t)) s"

# The cluster tests may skip only when no cluster is announced; here one is, so a skip is a bug.
python3 .ci/no_skips.py "$report/junit.xml" slurm
