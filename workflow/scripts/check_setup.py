"""The configuration checks that import code (check-config runs the same): see checks.smk."""

from pathlib import Path

from residual_pitfalls.checks import check_code
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    check_code(
        {
            "scores": p.scores,
            "models": p.models,
            "image_size": p.image_size,
            "figures": {"cmap": p.cmap},
        }
    )
    Path(snakemake.output[0]).write_text("ok\n")
