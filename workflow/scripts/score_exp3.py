"""Exp 3.1 / 3.2 for every scorer: the reconstructions the paper's Exp 3 job recorded, scored."""

import numpy as np
import pandas as pd

from residual_pitfalls.experiments.paper import linspace
from residual_pitfalls.experiments.zoo import scored_model_curves
from residual_pitfalls.runlog import job_log
from residual_pitfalls.scorers.registry import resolve_scorers
from residual_pitfalls.scorers.stats import load_healthy_stats

with job_log(snakemake.log[0]):
    images = np.load(snakemake.input.images)
    stats = snakemake.input.stats
    per_image, pooled = scored_model_curves(
        images,
        pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy(),
        np.load(snakemake.input.reconstructions, mmap_mode="r"),
        mode=snakemake.wildcards.mode,
        radius=snakemake.params.radius,
        intensities=linspace(snakemake.params.intensity),
        specs=resolve_scorers(snakemake.params.scores),
        stats=load_healthy_stats(stats[0], images.shape[1:]) if stats else None,
        metrics=snakemake.params.metrics,
        progress=True,
    )
    for frame, path in ((per_image, snakemake.output.per_image), (pooled, snakemake.output.pooled)):
        frame.insert(0, "mode", snakemake.wildcards.mode)
        frame.insert(0, "model", snakemake.wildcards.model)
        frame.to_parquet(path, index=False)
