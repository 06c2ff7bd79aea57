"""Exp 1 for one scorer: AP of every test image x sigma x intensity (disk anomaly, blurred image)."""

import numpy as np
import pandas as pd

from residual_pitfalls.experiments.paper import linspace
from residual_pitfalls.experiments.zoo import load_blurred_stats
from residual_pitfalls.runlog import job_log
from residual_pitfalls.scorers.fast_path import scored_intensity_sigma_grid
from residual_pitfalls.scorers.registry import resolve_scorers

with job_log(snakemake.log[0]):
    name = snakemake.wildcards.score
    spec = resolve_scorers({name: snakemake.params.entry})[name]
    frame = scored_intensity_sigma_grid(
        np.load(snakemake.input.images),
        pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy(),
        snakemake.params.radius,
        linspace(snakemake.params.intensity),
        linspace(snakemake.params.sigma),
        spec,
        load_blurred_stats(snakemake.input.stats[0]) if snakemake.input.stats else None,
        workers=snakemake.threads,
        progress=True,
    )
    frame.insert(0, "score", name)
    frame.to_parquet(snakemake.output[0], index=False)
