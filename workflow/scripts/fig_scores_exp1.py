"""The zoo on Exp 1: mean AP over intensity x sigma, one panel per scorer."""

import pandas as pd

from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.reporting.zoo_figures import scores_heatmaps
from residual_pitfalls.reporting.zoo_summaries import exp1_means
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    table = exp1_means(pd.read_parquet(p) for p in snakemake.input)
    fig = scores_heatmaps(table, snakemake.params.style)
    save_figure(fig, table, snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
