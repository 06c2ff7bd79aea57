"""The zoo on Exp 2: mean AP vs sigma per texture anomaly and scorer."""

import pandas as pd

from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.reporting.zoo_figures import texture_lines
from residual_pitfalls.reporting.zoo_summaries import texture_means
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    table = texture_means(pd.read_parquet(p) for p in snakemake.input)
    fig = texture_lines(table, snakemake.params.style)
    save_figure(fig, table, snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
