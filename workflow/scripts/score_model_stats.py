"""A model's healthy statistics: training-slice pixel statistics, its residuals on validation slices."""

from pathlib import Path

import numpy as np
import torch

from residual_pitfalls.models import load_model, reconstruct
from residual_pitfalls.models.external import load_external_model
from residual_pitfalls.runlog import job_log
from residual_pitfalls.score_experiments import model_healthy_stats
from residual_pitfalls.scores import save_healthy_stats

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    spec, checkpoint = snakemake.params.spec, Path(snakemake.input.checkpoint)
    if "checkpoint" in spec:  # a model we did not write
        model = load_external_model(
            checkpoint=checkpoint, class_path=spec.get("class_path"), hparams=spec.get("hparams")
        )
    else:
        model = load_model(checkpoint)
    val = np.load(snakemake.input.val)
    rec = reconstruct(model, val, batch_size=snakemake.params.batch_size) if len(val) else None
    stats = model_healthy_stats(np.load(snakemake.input.train), val, rec)
    save_healthy_stats(snakemake.output[0], stats)
