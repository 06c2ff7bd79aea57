"""Exp 2: AP of every test image x sigma for one texture anomaly (sink, source, pixel shuffle)."""

import numpy as np
import pandas as pd

from residual_pitfalls.experiments.paper import linspace, texture_sigma_curve
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    centres = pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy()
    frame = texture_sigma_curve(
        np.load(snakemake.input.images),
        centres,
        anomaly=snakemake.wildcards.anomaly,
        radius=snakemake.params.radius,
        sigmas=linspace(snakemake.params.sigma),
        seed=snakemake.params.seed,
        workers=snakemake.threads,
        progress=True,
    )
    frame.to_parquet(snakemake.output[0], index=False)
