"""Exp 2 for one scorer: AP of every texture anomaly x test image x sigma."""

import numpy as np
import pandas as pd

from residual_pitfalls.experiments.paper import linspace
from residual_pitfalls.experiments.zoo import load_blurred_stats, scored_texture_curves
from residual_pitfalls.runlog import job_log
from residual_pitfalls.scorers.registry import resolve_scorers

with job_log(snakemake.log[0]):
    name = snakemake.wildcards.score
    frame = scored_texture_curves(
        np.load(snakemake.input.images),
        pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy(),
        anomalies=snakemake.params.anomalies,
        radius=snakemake.params.radius,
        sigmas=linspace(snakemake.params.sigma),
        seed=snakemake.params.seed,
        spec=resolve_scorers({name: snakemake.params.entry})[name],
        stats=load_blurred_stats(snakemake.input.stats[0]) if snakemake.input.stats else None,
        progress=True,
    )
    frame.to_parquet(snakemake.output[0], index=False)
