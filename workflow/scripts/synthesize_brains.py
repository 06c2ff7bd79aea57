"""Render the embedded synthetic brains as NIfTI volumes (one file per subject)."""

from pathlib import Path

from residual_pitfalls.data.synthetic import write_synthetic_volumes
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    write_synthetic_volumes(
        [Path(p) for p in snakemake.output],
        seed=snakemake.params.seed,
        size=snakemake.params.size,
        slab=tuple(snakemake.params.slab),
        target_mean=snakemake.params.target_mean,
        workers=snakemake.threads,
    )
