"""Download BrainWeb's tissue models and render them (and their augmented copies) as T2 NIfTI."""

from pathlib import Path

from residual_pitfalls.data.brainweb import write_volumes
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    write_volumes(
        [Path(p) for p in snakemake.output],
        list(snakemake.params.subjects),
        models=Path(snakemake.params.models),
        url=snakemake.params.url,
        sha256={int(k): v for k, v in snakemake.params.sha256.items()},
        seed=snakemake.params.seed,
        augment=snakemake.params.augment,
        size=snakemake.params.size,
    )
