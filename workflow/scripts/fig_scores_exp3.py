"""The zoo on Exp 3.1 / 3.2: mean AP vs intensity per model and scorer."""

import pandas as pd

from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.reporting.zoo_figures import exp3_lines
from residual_pitfalls.reporting.zoo_summaries import exp3_table
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    table = exp3_table(
        (pd.read_parquet(p) for p in snakemake.input.per_image),
        (pd.read_parquet(p) for p in snakemake.input.pooled),
    )
    fig = exp3_lines(table, snakemake.params.style, snakemake.params.labels)
    save_figure(fig, table, snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
