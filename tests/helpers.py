"""Shared by the tests that run the real workflow in a subprocess."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
TINY = REPO / "config" / "tiny.yaml"
# The figures `all` builds on the default data (App. D's fig7/fig8 need labelled data).
FIGURES = (
    "fig1a",
    "fig1b",
    "fig2",
    "fig3a",
    "fig3b",
    "fig4a",
    "fig4b",
    "fig5",
    "fig6a",
    "fig6b",
    "fig3a_per_image_bn",
)


def readme_csv_columns() -> dict[str, list[str]]:
    """{figure: its CSV's columns} from the table "The CSV beside each figure" of docs/output.md."""
    text = (REPO / "docs" / "output.md").read_text()
    section = text.split("## The CSV beside each figure", 1)[1].split("\n#", 1)[0]
    columns = {}
    for names, listed in re.findall(
        r"^\| ((?:`fig\w+\.csv`(?:, )?)+) \| `([^`]+)` \|", section, re.M
    ):
        for name in re.findall(r"`(fig\w+)\.csv`", names):
            columns[name] = listed.split(",")
    return columns


def snakemake_command(workdir: Path, *args: str, python: str = sys.executable) -> list[str]:
    """`python -m snakemake` on the repo's Snakefile in `workdir`.

    Put targets before `--configfile`: it takes several values and would swallow them.
    """
    return [python, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(workdir), *args]


def run_snakemake(
    workdir: Path, *args: str, env: dict | None = None, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Run snakemake and return the finished process (stdout and stderr captured as text)."""
    return subprocess.run(
        snakemake_command(workdir, *args), capture_output=True, text=True, env=env, timeout=timeout
    )
