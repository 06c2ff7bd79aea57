"""The house is kept clean by tools, not by hand: `ruff check`, `ruff format --check` and
`snakemake --lint` pass on the whole repository (docs/development.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import REPO


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("command", [("ruff", "check", "."), ("ruff", "format", "--check", ".")])
def test_ruff_is_clean(command):
    done = run(*command)
    assert done.returncode == 0, done.stdout + done.stderr


def test_snakemake_lint_is_clean():
    done = run("snakemake", "--lint")
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "Congratulations" in output, output
