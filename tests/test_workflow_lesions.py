"""Exp 4 in the workflow: the tiny config builds the lesion targets on the embedded lesion set."""

import pandas as pd
import pytest
from helpers import TINY, run_snakemake, tiny_models

pytestmark = pytest.mark.workflow

TARGETS = ["results/lesions_embedded_metrics.pdf", "results/lesions_embedded_by_intensity.pdf"]


def test_tiny_config_builds_the_exp4_targets(tmp_path):
    result = run_snakemake(tmp_path, *TARGETS, "--cores", "2", "--configfile", str(TINY))
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results"
    for stem in ("lesions_embedded_metrics", "lesions_embedded_by_intensity"):
        for ext in ("pdf", "png", "csv"):
            assert (results / f"{stem}.{ext}").stat().st_size > 0
    metrics = pd.read_csv(results / "lesions_embedded_metrics.csv")
    assert {"per_image_ap", "pooled_ap", "best_dice", "auroc"} <= set(metrics.columns)
    assert len(metrics) == len(tiny_models()) * 8  # every model x the eight built-in scorers
    assert (metrics["n_healthy_slices"] > 0).all() and (metrics["n_lesion_slices"] > 0).all()
    lesions = pd.read_parquet(results / "metrics" / "lesions" / "embedded" / "ae128.parquet")
    assert {"volume", "component", "size", "percentile", "contrast", "detected", "ap"} <= set(
        lesions.columns
    )
    components = pd.read_csv(results / "metrics" / "lesions" / "embedded" / "components.csv")
    # painted inside and outside the healthy histogram's bulk
    assert (components["percentile"].between(10, 90)).any()
    assert ((components["percentile"] < 2) | (components["percentile"] > 98)).any()
    by_intensity = pd.read_csv(results / "lesions_embedded_by_intensity.csv")
    assert by_intensity.groupby(["model", "score"])["n_lesions"].sum().eq(len(components)).all()
