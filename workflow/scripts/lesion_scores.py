"""Exp 4 for one model: the set's slices reconstructed once, scored by every scorer."""

import pandas as pd
import torch

from residual_pitfalls.lesions.components import SliceStack
from residual_pitfalls.lesions.experiment import lesion_scores
from residual_pitfalls.models.checks import evaluation_reconstructor
from residual_pitfalls.runlog import job_log
from residual_pitfalls.scorers.registry import resolve_scorers
from residual_pitfalls.scorers.stats import load_healthy_stats

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    stack = SliceStack.load(snakemake.input.stack)
    # checked like every Exp 3 job (traced model + per_image)
    run = evaluation_reconstructor(
        snakemake.input.checkpoint, stack.images, **snakemake.params.model
    )
    rec = run(stack.images)
    stats = snakemake.input.stats
    metrics, lesions = lesion_scores(
        stack,
        rec,
        pd.read_csv(snakemake.input.components),
        resolve_scorers(snakemake.params.scores),
        stats=load_healthy_stats(stats[0], stack.images.shape[1:]) if stats else None,
        detected_fraction=snakemake.params.detected_fraction,
        margin=snakemake.params.margin,
        progress=True,
    )
    model_name, set_name = snakemake.wildcards.model, snakemake.wildcards.lesion_set
    lesions.insert(0, "model", model_name)
    lesions.insert(0, "set", set_name)
    lesions.to_parquet(snakemake.output.lesions, index=False)
    metrics.insert(0, "model", model_name)
    metrics.insert(0, "set", set_name)
    metrics.to_csv(snakemake.output.metrics, index=False)
