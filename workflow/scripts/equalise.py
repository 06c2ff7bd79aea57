"""App. C: histogram-equalise each test slice inside its brain mask (per slice, as the paper)."""

import numpy as np

from residual_pitfalls.data.histograms import equalise_histogram
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    images = np.load(snakemake.input[0])
    np.save(
        snakemake.output[0],
        np.stack([equalise_histogram(image, snakemake.params.bins) for image in images]),
    )
