"""Exp 3.1 in the BatchNorm mode the configuration does not evaluate in (for the BatchNorm
comparison, results/fig3a_per_image_bn): AP per intensity, no recorded reconstructions."""

import numpy as np
import pandas as pd
import torch

from residual_pitfalls.experiments.paper import linspace, model_intensity_curves
from residual_pitfalls.models.checks import evaluation_reconstructor
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    images = np.load(snakemake.input.images)
    run = evaluation_reconstructor(snakemake.input.checkpoint, images, **snakemake.params.model)
    centres = pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy()
    frame, _ = model_intensity_curves(
        images,
        centres,
        run,
        mode=snakemake.wildcards.mode,
        radius=snakemake.params.radius,
        intensities=linspace(snakemake.params.intensity),
        progress=True,
    )
    frame.insert(0, "model", snakemake.wildcards.model)
    frame.to_parquet(snakemake.output.curve, index=False)
