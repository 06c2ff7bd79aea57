"""A model's healthy statistics: training-slice pixel statistics, its residuals on validation slices."""

import numpy as np
import torch

from residual_pitfalls.experiments.zoo import model_healthy_stats
from residual_pitfalls.models import load_configured_model, reconstruct
from residual_pitfalls.runlog import job_log
from residual_pitfalls.scorers.stats import save_healthy_stats

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    model = load_configured_model(snakemake.params.spec, snakemake.input.checkpoint)
    val = np.load(snakemake.input.val)
    # the residuals of the reconstructions Exp 3 scores: the same BatchNorm mode
    rec = (
        reconstruct(
            model,
            val,
            batch_size=snakemake.params.batch_size,
            batchnorm=snakemake.params.batchnorm,
        )
        if len(val)
        else None
    )
    stats = model_healthy_stats(np.load(snakemake.input.train), val, rec)
    save_healthy_stats(snakemake.output[0], stats)
