import hashlib
import os

import pytest
import yaml
from helpers import REPO, TINY, run_snakemake
from snakemake.utils import update_config, validate

from residual_pitfalls.provenance import (
    dataset_settings,
    describe_config,
    package_versions,
    write_provenance,
)


def test_provenance_records_config_versions_and_its_inputs(tmp_path):
    path = tmp_path / "provenance.yaml"
    table = tmp_path / "fig1a.csv"
    table.write_text("intensity,sigma,ap\n0.5,1.0,0.25\n")
    write_provenance(
        path, {"dataset": "synthetic", "grid": {"sigma": {"num": 3}}}, {"figures": [table]}
    )
    record = yaml.safe_load(path.read_text())
    assert record["config"]["grid"]["sigma"]["num"] == 3
    assert record["packages"]["numpy"] == __import__("numpy").__version__
    assert record["python"].count(".") == 2 and record["code_revision"]
    entry = record["inputs"]["figures"][str(table)]
    assert entry["sha256"] == hashlib.sha256(table.read_bytes()).hexdigest()
    assert entry["bytes"] == table.stat().st_size


def test_missing_package_is_reported_not_raised():
    assert package_versions(("no-such-package-xyz",)) == {"no-such-package-xyz": "not installed"}


def test_each_dataset_shows_only_the_settings_of_its_source():
    """The schema fills its defaults into every `datasets` entry; the record must not claim that
    the synthetic brains were read with a glob pattern, normalised or reoriented."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load(TINY.read_text()))  # as --configfile does
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    described = describe_config(config)["datasets"]
    synthetic, mood = described["synthetic"], described["mood"]
    assert not {"pattern", "normalisation", "reorient", "resize", "path"} & set(synthetic)
    assert synthetic == {"source": "synthetic", "subjects": 10, "seed": 0, "target_mean": None}
    assert {"path", "pattern", "normalisation", "reorient", "resize"} <= set(mood)
    assert not {"subjects", "target_mean"} & set(mood)
    # a key no source claims (a newer setting) is kept, whatever the source
    assert dataset_settings({"source": "synthetic", "note": "x"})["note"] == "x"


def _job_stats(result) -> set[str]:
    text = result.stdout + result.stderr
    table = text.split("Job stats:")[1].split("\n\n")[0] if "Job stats:" in text else ""
    return {line.split()[0] for line in table.splitlines()[3:] if line.strip()}


@pytest.mark.workflow
def test_rebuilding_a_figure_rebuilds_the_provenance(tmp_path):
    """Every output of the tiny DAG is faked (empty files marked up to date with --touch); new
    Exp. 1 numbers then make their figures AND the provenance out of date."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / ".numba")}
    config = ("--configfile", str(TINY))
    summary = run_snakemake(tmp_path, "--summary", "all", *config, env=env, timeout=300)
    assert summary.returncode == 0, summary.stderr[-3000:]
    files = [line.split("\t")[0] for line in summary.stdout.splitlines()[1:] if "\t" in line]
    assert "results/provenance.yaml" in files and "results/fig1a.csv" in files
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    touched = run_snakemake(tmp_path, "--touch", "all", "--cores", "1", *config, env=env)
    assert touched.returncode == 0, touched.stderr[-3000:]
    idle = run_snakemake(tmp_path, "-n", "all", *config, env=env, timeout=300)
    assert "Nothing to be done" in idle.stdout + idle.stderr

    # new content (Snakemake skips inputs whose checksum did not change)
    (tmp_path / "results" / "metrics" / "exp1_raw.parquet").write_bytes(b"new numbers")
    planned = _job_stats(run_snakemake(tmp_path, "-n", "all", *config, env=env, timeout=300))
    assert {"fig1a", "fig2", "provenance"} <= planned, planned
