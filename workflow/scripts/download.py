"""Download a gated archive (MOOD) with a token from the environment, verify it, extract it, check
that every expected volume arrived, and delete the archive."""

from pathlib import Path

from residual_pitfalls.data.download import fetch_dataset
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    fetch_dataset(
        snakemake.params.url,
        Path(snakemake.params.archive),
        Path(snakemake.params.dest),
        [Path(p) for p in snakemake.output],
        sha256=snakemake.params.sha256,
        token_env=snakemake.params.token_env,
        root=snakemake.params.root,
    )
