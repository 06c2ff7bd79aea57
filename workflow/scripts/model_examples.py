"""Fig. 4(a)'s examples: a model reconstructs anomalous test images with the disk at
evaluation.example_intensity; the inputs, reconstructions and anomaly maps it draws."""

import numpy as np
import pandas as pd
import torch

from residual_pitfalls.experiments.paper import model_examples
from residual_pitfalls.models.checks import evaluation_reconstructor
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    images = np.load(snakemake.input.images)
    run = evaluation_reconstructor(snakemake.input.checkpoint, images, **snakemake.params.model)
    centres = pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy()
    examples = model_examples(
        images,
        centres,
        run,
        mode="anomalous",
        radius=snakemake.params.radius,
        intensity=snakemake.params.example_intensity,
    )
    np.savez_compressed(snakemake.output.examples, **examples)
