"""Exp 3.1 / 3.2 for every scorer: one model reconstructs once per intensity, every scorer scores."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from residual_pitfalls.experiments import linspace
from residual_pitfalls.models import load_model, reconstruct
from residual_pitfalls.models.external import load_external_model
from residual_pitfalls.runlog import job_log
from residual_pitfalls.score_experiments import scored_model_curves
from residual_pitfalls.scores import load_healthy_stats, resolve_scorers

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    spec, checkpoint = snakemake.params.spec, Path(snakemake.input.checkpoint)
    if "checkpoint" in spec:  # a model we did not write: evaluated exactly like ours
        model = load_external_model(
            checkpoint=checkpoint, class_path=spec.get("class_path"), hparams=spec.get("hparams")
        )
    else:
        model = load_model(checkpoint)
    images = np.load(snakemake.input.images)
    per_image, pooled = scored_model_curves(
        images,
        pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy(),
        lambda batch: reconstruct(model, batch, batch_size=snakemake.params.batch_size),
        mode=snakemake.wildcards.mode,
        radius=snakemake.params.radius,
        intensities=linspace(snakemake.params.intensity),
        specs=resolve_scorers(snakemake.params.scores),
        stats=load_healthy_stats(s[0], images.shape[1:]) if (s := snakemake.input.stats) else None,
        metrics=snakemake.params.metrics,
        progress=True,
    )
    for frame, path in ((per_image, snakemake.output.per_image), (pooled, snakemake.output.pooled)):
        frame.insert(0, "mode", snakemake.wildcards.mode)
        frame.insert(0, "model", snakemake.wildcards.model)
        frame.to_parquet(path, index=False)
