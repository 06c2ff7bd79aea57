"""results/fig3_modern: Exp 3.1 and 3.2 of the models beyond the paper's six beside the paper's
matched models; the CSV adds matched sigma and mean Exp 3.2 AP per model."""

import pandas as pd

from residual_pitfalls.reporting.modern_figures import modern_curve_table, modern_curves
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    style = snakemake.params.style
    labels = dict(zip(snakemake.params.models, snakemake.params.labels, strict=True))
    table = modern_curve_table(
        [pd.read_parquet(p) for p in snakemake.input.healthy],
        [pd.read_parquet(p) for p in snakemake.input.anomalous],
        labels,
        pd.read_parquet(snakemake.input.grid),
        n_resamples=style["bootstrap"],
    )
    families = dict(zip(snakemake.params.labels, snakemake.params.families, strict=True))
    save_figure(
        modern_curves(table, style, families), table, snakemake.output.pdf, dpi=style["dpi"]
    )
    print(
        table.groupby("label", sort=False)[["matched_sigma", "censored", "mean_ap_exp32"]].first()
    )
