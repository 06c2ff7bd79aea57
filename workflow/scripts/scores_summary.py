"""One row per scorer: Exp 1 blind spot, worst intensity at sigma ~ 1 and 2, Exp 3.2 per model."""

import pandas as pd

from residual_pitfalls.reporting.tables import summary_html
from residual_pitfalls.reporting.zoo_summaries import exp1_means, exp3_table, summary_table
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    exp3 = (
        exp3_table(
            (pd.read_parquet(p) for p in snakemake.input.per_image),
            (pd.read_parquet(p) for p in snakemake.input.pooled),
        )
        if snakemake.params.models
        else None
    )
    table = summary_table(
        exp1_means(pd.read_parquet(p) for p in snakemake.input.exp1),
        exp3,
        snakemake.params.models,
        snakemake.params.metrics,
        snakemake.params.blind_ap,
    )
    table.to_csv(snakemake.output.csv, index=False)
    with open(snakemake.output.html, "w") as html:
        html.write(summary_html(table, snakemake.params.labels))
    # one short line on the terminal (the quiet profile); the whole table is in the CSV and the report
    print(f"scores_summary: {len(table)} scorers x {table.shape[1] - 1} columns")
