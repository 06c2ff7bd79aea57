"""A model's healthy statistics: training-slice pixel statistics, its residuals on validation slices."""

import numpy as np
import torch

from residual_pitfalls.experiments.zoo import model_healthy_stats
from residual_pitfalls.models.checks import evaluation_reconstructor
from residual_pitfalls.runlog import job_log
from residual_pitfalls.scorers.stats import save_healthy_stats

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    val = np.load(snakemake.input.val)
    # checked like every Exp 3 job; the residuals of the reconstructions Exp 3 scores: the same
    # BatchNorm mode
    run = evaluation_reconstructor(snakemake.input.checkpoint, val, **snakemake.params.model)
    stats = model_healthy_stats(np.load(snakemake.input.train), val, run(val) if len(val) else None)
    save_healthy_stats(snakemake.output[0], stats)
