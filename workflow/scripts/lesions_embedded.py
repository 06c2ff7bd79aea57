"""Exp 4's embedded lesion set: lesions painted into the first test volumes, NIfTI image + label."""

from pathlib import Path

from residual_pitfalls.data.volumes import load_volume
from residual_pitfalls.lesions.painting import write_lesion_set
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    masks = list(snakemake.input.masks) or [None] * len(snakemake.input.volumes)
    volumes = [
        load_volume(Path(v), mask_path=m and Path(m), **snakemake.params.load)
        for v, m in zip(snakemake.input.volumes, masks, strict=True)
    ]
    write_lesion_set(
        volumes,
        snakemake.output.images,
        snakemake.output.labels,
        seed=snakemake.params.seed,
        n_lesions=snakemake.params.per_volume,
        axis=snakemake.params.axis,
    )
