"""Exp 3.1 / 3.2 in the configured BatchNorm mode: a model reconstructs the healthy or the anomalous
test images; AP per intensity. Every reconstruction is recorded for the scorer zoo (score_exp3)."""

import numpy as np
import pandas as pd
import torch

from residual_pitfalls.experiments.paper import linspace, model_intensity_curves
from residual_pitfalls.experiments.zoo import RecordedReconstructions
from residual_pitfalls.models.checks import evaluation_reconstructor
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)  # jobs run side by side: no oversubscription
    images = np.load(snakemake.input.images)
    # a model we did not write is evaluated exactly like ours; a stochastic model is named in the
    # log; per-image BatchNorm that cannot switch is refused
    run = evaluation_reconstructor(snakemake.input.checkpoint, images, **snakemake.params.model)
    centres = pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy()
    intensities = linspace(snakemake.params.intensity)
    record = RecordedReconstructions(
        run,
        snakemake.output.reconstructions,
        mode=snakemake.wildcards.mode,
        n_intensities=len(intensities),
        shape=images.shape,
    )
    frame, _ = model_intensity_curves(
        images,
        centres,
        record,
        mode=snakemake.wildcards.mode,
        radius=snakemake.params.radius,
        intensities=intensities,
        progress=True,
    )
    record.close()
    frame.insert(0, "model", snakemake.wildcards.model)
    frame.to_parquet(snakemake.output.curve, index=False)
