"""The zoo's blind spots: per scorer and sigma, the intensities whose mean Exp 1 AP is low."""

import pandas as pd

from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.reporting.zoo_figures import blindspot_bands
from residual_pitfalls.reporting.zoo_summaries import blindspot_table, exp1_means
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    blind_ap = snakemake.params.blind_ap
    table = blindspot_table(exp1_means(pd.read_parquet(p) for p in snakemake.input), blind_ap)
    fig = blindspot_bands(table, snakemake.params.style, blind_ap)
    save_figure(fig, table, snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
