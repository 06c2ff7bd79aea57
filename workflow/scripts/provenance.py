"""The config, the software versions and the checksums of the figures, data and models of a run."""

from residual_pitfalls.provenance import write_provenance
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    groups = ("figures", "data", "models")
    inputs = {group: list(getattr(snakemake.input, group)) for group in groups}
    write_provenance(snakemake.output[0], dict(snakemake.params.config), inputs)
