#!/usr/bin/env bash
# CI stage "envs": prove that each per-rule environment envs/*.yaml is sufficient on its own.
# For every env file tests/test_envs.py builds a fresh virtual environment (no system packages)
# under .ci/.venvs/<env> from exactly its pins plus the pinned snakemake, then runs jobs of that
# env's rules on the tiny config with that interpreter. pip's cache is reused between runs; set
# RESIDUAL_PITFALLS_ENVS_REUSE=1 to keep the venvs (~4 GB) and reuse those whose pins did not change
# (local iteration only); otherwise they are deleted at the end.
# Fails if a test is skipped: here none may skip.
#
#   bash .ci/envs.sh          # from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
report="$(mktemp -d)"
cleanup() {
    rm -rf "$report"
    [[ "${RESIDUAL_PITFALLS_ENVS_REUSE:-}" == 1 ]] || rm -rf "${RESIDUAL_PITFALLS_VENVS:-.ci/.venvs}"
}
trap cleanup EXIT

export RESIDUAL_PITFALLS_ENVS=build MPLBACKEND=Agg
python -m pytest -q -rs -p no:cacheprovider --junitxml="$report/junit.xml" tests/test_envs.py

python .ci/no_skips.py "$report/junit.xml" envs
echo "[envs] stage finished in $((SECONDS - started)) s" >&2
