"""Download a gated archive (MOOD) with a token from the environment, verify it, extract it."""

import shutil
from pathlib import Path

from residual_pitfalls.download import download_file, extract_archive
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    archive = download_file(
        snakemake.params.url,
        Path(snakemake.params.archive),
        sha256=snakemake.params.sha256,
        token_env=snakemake.params.token_env,
    )
    extracted = extract_archive(archive, Path(snakemake.params.dest), root=snakemake.params.root)
    missing = [p for p in snakemake.output if not Path(p).exists()]
    if missing:
        # the folder did not exist before this job: leave nothing that looks like a data set
        shutil.rmtree(snakemake.params.dest)
        raise FileNotFoundError(
            f"the archive {snakemake.params.url} did not provide {len(missing)} expected volume(s), "
            f"e.g. {missing[0]}; it contained {len(extracted)} NIfTI files"
        )
