"""The config and the software versions a run used, for the report."""

from residual_pitfalls.provenance import write_provenance
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    write_provenance(snakemake.output[0], dict(snakemake.params.config))
