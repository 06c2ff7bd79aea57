"""Exp 1 / App. C: AP of every test image x sigma x intensity (disk anomaly, blurred healthy image)."""

import numpy as np
import pandas as pd

from residual_pitfalls.experiments.paper import intensity_sigma_grid, linspace
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    centres = pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy()
    frame = intensity_sigma_grid(
        np.load(snakemake.input.images),
        centres,
        radius=snakemake.params.radius,
        intensities=linspace(snakemake.params.intensity),
        sigmas=linspace(snakemake.params.sigma),
        workers=snakemake.threads,
        progress=True,
    )
    frame.to_parquet(snakemake.output[0], index=False)
