"""Exp 1/2 healthy statistics: per sigma, the training slices and their residuals after blurring."""

import numpy as np

from residual_pitfalls.experiments.paper import linspace
from residual_pitfalls.experiments.zoo import save_blurred_stats
from residual_pitfalls.runlog import job_log
from residual_pitfalls.scorers.stats import blurred_healthy_stats

with job_log(snakemake.log[0]):
    stats = blurred_healthy_stats(np.load(snakemake.input[0]), linspace(snakemake.params.sigma))
    save_blurred_stats(snakemake.output[0], stats)
