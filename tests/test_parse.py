"""Parsing the workflow (every job re-parses it) imports no numba, torch or matplotlib."""

import re
import subprocess

import pytest
from helpers import TINY, snakemake_command

pytestmark = pytest.mark.workflow

HEAVY = ("numba", "torch", "matplotlib")


def test_dry_run_parses_without_heavy_imports(tmp_path):
    cmd = snakemake_command(tmp_path, "-n", "all", "--configfile", str(TINY))
    result = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+([\w.]+)$", result.stderr, re.M))
    assert "residual_pitfalls.config" in imported  # the start-up checks ran
    assert "snakemake" in {name.split(".")[0] for name in imported}
    heavy = sorted(n for n in imported if n.split(".")[0] in HEAVY)
    assert not heavy, heavy
