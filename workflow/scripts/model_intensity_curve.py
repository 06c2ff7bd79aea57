"""Exp 3.1 / 3.2: a model reconstructs the healthy or the anomalous test images; AP per intensity.
Rule model_examples: the same model's Fig. 4(a) examples (anomalous inputs) instead."""

import numpy as np
import pandas as pd
import torch

from residual_pitfalls.experiments.paper import linspace, model_examples, model_intensity_curves
from residual_pitfalls.experiments.zoo import RecordedReconstructions
from residual_pitfalls.models import load_configured_model, reconstruct
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)  # jobs run side by side: no oversubscription
    # a model we did not write is evaluated exactly like ours
    model = load_configured_model(snakemake.params.spec, snakemake.input.checkpoint)
    images = np.load(snakemake.input.images)
    centres = pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy()

    def run(batch):
        return reconstruct(
            model,
            batch,
            batch_size=snakemake.params.batch_size,
            batchnorm=snakemake.params.batchnorm,
        )

    if hasattr(snakemake.output, "curve"):  # rule model_intensity_curve
        # the scorer zoo scores these reconstructions (score_exp3); the BatchNorm comparison has none
        record = (
            RecordedReconstructions(
                run,
                snakemake.output.reconstructions,
                mode=snakemake.wildcards.mode,
                n_intensities=len(linspace(snakemake.params.intensity)),
                shape=images.shape,
            )
            if hasattr(snakemake.output, "reconstructions")
            else None
        )
        frame, _ = model_intensity_curves(
            images,
            centres,
            record if record is not None else run,
            mode=snakemake.wildcards.mode,
            radius=snakemake.params.radius,
            intensities=linspace(snakemake.params.intensity),
            progress=True,
        )
        if record is not None:
            record.close()
        frame.insert(0, "model", snakemake.wildcards.model)
        frame.to_parquet(snakemake.output.curve, index=False)
    else:  # rule model_examples: Fig. 4(a) shows reconstructions of the anomalous images
        examples = model_examples(
            images,
            centres,
            run,
            mode="anomalous",
            radius=snakemake.params.radius,
            intensity=snakemake.params.example_intensity,
        )
        np.savez_compressed(snakemake.output.examples, **examples)
