"""Train one reconstruction model on the healthy training slices (resumes from its last checkpoint)."""

import shutil
from pathlib import Path

import numpy as np

from residual_pitfalls.models import sized_hparams
from residual_pitfalls.reporting.training_plots import plot_loss_curve
from residual_pitfalls.runlog import job_log
from residual_pitfalls.training.loop import TrainSettings, train_model

with job_log(snakemake.log[0]):
    training = dict(snakemake.params.training)
    workdir = Path(snakemake.params.workdir)
    arch = snakemake.params.arch
    final = train_model(
        arch,
        sized_hparams(arch, snakemake.params.hparams, snakemake.params.image_size),
        np.load(snakemake.input.train),
        np.load(snakemake.input.val),
        # the config's `training` keys are TrainSettings' fields
        TrainSettings(**training, seed=snakemake.params.seed, threads=snakemake.threads),
        workdir=workdir,
    )
    if Path(final) != Path(snakemake.output.model):
        shutil.copyfile(final, snakemake.output.model)
    plot_loss_curve(workdir / "loss.csv", Path(snakemake.output.curve))
