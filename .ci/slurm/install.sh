#!/usr/bin/env bash
# Install what the SLURM stage needs, idempotently:
#   * Debian's slurm-wlm (slurmctld, slurmd, clients) and munge, unless already installed;
#   * a virtual environment $RP_SLURM_VENV (default .ci/.venv-slurm, ignored by git) that sees the
#     system packages and adds only the pinned executor plugin of pyproject's `slurm` extra, so the
#     system Python (and every other test) never imports the plugin.
set -euo pipefail
# shellcheck source=.ci/slurm/common.sh
source "$(dirname "$0")/common.sh"

need_apt=()
for bin in slurmctld slurmd sbatch squeue scontrol munged mungekey; do
    command -v "$bin" >/dev/null || need_apt=(slurm-wlm munge)
done
if ((${#need_apt[@]})); then
    rp_log "installing ${need_apt[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || rp_die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null \
        || rp_die "apt-get install ${need_apt[*]} failed"
fi
for bin in slurmctld slurmd sbatch squeue scontrol munged mungekey; do
    command -v "$bin" >/dev/null || rp_die "$bin is still missing after installing slurm-wlm and munge"
done

# The plugin pin comes from pyproject.toml (one source of truth for every version).
plugin="$(python3 - "$RP_REPO/pyproject.toml" <<'EOF'
import sys, tomllib
extra = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["slurm"]
pins = [p for p in extra if p.startswith("snakemake-executor-plugin-slurm==")]
if len(pins) != 1:
    sys.exit(f"{sys.argv[1]}: expected one 'snakemake-executor-plugin-slurm==X' in the slurm extra, got {extra}")
print(pins[0])
EOF
)"
if [[ ! -x "$RP_SLURM_VENV/bin/python" ]]; then
    rp_log "creating $RP_SLURM_VENV"
    python3 -m venv --system-site-packages "$RP_SLURM_VENV"
    # A venv that ignores itself: no .gitignore entry needed wherever it lives.
    echo '*' >"$RP_SLURM_VENV/.gitignore"
fi
if ! "$RP_SLURM_VENV/bin/python" -m pip show -q snakemake-executor-plugin-slurm 2>/dev/null \
    || [[ "$("$RP_SLURM_VENV/bin/python" -m pip show snakemake-executor-plugin-slurm 2>/dev/null \
        | sed -n 's/^Version: //p')" != "${plugin#*==}" ]]; then
    rp_log "installing $plugin into $RP_SLURM_VENV"
    "$RP_SLURM_VENV/bin/python" -m pip install -q "$plugin" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
fi
"$RP_SLURM_VENV/bin/python" -c "import snakemake_executor_plugin_slurm" \
    || rp_die "$plugin did not install into $RP_SLURM_VENV"
rp_log "ready: slurm-wlm $(dpkg-query -W -f '${Version}' slurm-wlm 2>/dev/null || echo '?'), $plugin in $RP_SLURM_VENV"
