"""The real Snakemake DAG on the tiny config, in a temporary working directory."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "config" / "tiny.yaml"

pytestmark = pytest.mark.workflow


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake on the repo's Snakefile in `workdir` (targets first: --configfile takes nargs)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        *args,
    ]
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env={**os.environ, "NUMBA_CACHE_DIR": str(workdir / ".numba")},
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'job count' table of a dry run, as {rule: count}."""
    text = result.stdout + result.stderr
    table = text.split("job ")[-1] if "job " in text else ""
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("run")


def test_dry_run_lists_the_whole_dag(workdir):
    jobs = planned_jobs(snakemake(workdir, "-n", "all", "--configfile", str(TINY)))
    for rule in (
        "synthesize_brains",
        "slices",
        "intensity_sigma_grid",
        "texture_sigma_curve",
        "train_model",
        "model_intensity_curve",
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
    ):
        assert rule in jobs, (rule, jobs)
    assert jobs["train_model"] == 6 and jobs["model_intensity_curve"] == 12


def test_fig1b_builds_only_what_it_needs_and_reruns_only_what_changed(workdir):
    result = snakemake(workdir, "results/fig1b.pdf", "--configfile", str(TINY), "--cores", "2")
    done = set(re.findall(r"rule (\w+):", result.stderr + result.stdout))
    assert done == {"synthesize_brains", "slices", "fig1b"}, done
    for suffix in (".pdf", ".png", ".csv"):
        assert (workdir / "results" / f"fig1b{suffix}").stat().st_size > 0
    table = pd.read_csv(workdir / "results" / "fig1b.csv")
    assert {"bin_left", "bin_right", "count", "mean", "mode"} <= set(table.columns)
    for split in ("train", "val", "test"):
        assert (workdir / "results" / "data" / f"{split}.npy").exists() or split != "test"
    # a second call has nothing to do
    again = snakemake(workdir, "-n", "results/fig1b.pdf", "--configfile", str(TINY))
    assert "Nothing to be done" in again.stdout + again.stderr
    # restyling reruns the plot only
    restyle = planned_jobs(
        snakemake(
            workdir,
            "-n",
            "results/fig1b.pdf",
            "--configfile",
            str(TINY),
            "--config",
            "figures={'dpi': 61}",
        )
    )
    assert set(restyle) == {"fig1b", "total"}, restyle
    # a data parameter reruns the data jobs and what depends on them
    data = planned_jobs(
        snakemake(
            workdir,
            "-n",
            "results/fig1b.pdf",
            "--configfile",
            str(TINY),
            "--config",
            "datasets={'synthetic': {'target_mean': 0.4}}",
        )
    )
    assert set(data) == {"synthesize_brains", "slices", "fig1b", "total"}, data
