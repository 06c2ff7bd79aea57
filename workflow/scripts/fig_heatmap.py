"""Fig. 1(a) / 6(a): mean AP over intensity x sigma."""

import pandas as pd

from residual_pitfalls.reporting.figures import intensity_sigma_heatmap
from residual_pitfalls.reporting.summaries import heatmap_table
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    grid, table = heatmap_table(pd.read_parquet(snakemake.input[0]))
    fig = intensity_sigma_heatmap(grid, snakemake.params.style, snakemake.params.title)
    save_figure(fig, table, snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
