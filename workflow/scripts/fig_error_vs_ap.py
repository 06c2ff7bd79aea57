"""Fig. 4(b): reconstruction error on the healthy test set vs mean AP of Exp 3.2, one point per model."""

import pandas as pd

from residual_pitfalls.reporting.figures import error_vs_ap
from residual_pitfalls.reporting.summaries import error_vs_ap_table
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    labels = dict(zip(snakemake.params.models, snakemake.params.labels, strict=True))
    points = error_vs_ap_table(
        [pd.read_parquet(p) for p in snakemake.input.healthy],
        [pd.read_parquet(p) for p in snakemake.input.anomalous],
        labels,
    )
    save_figure(
        error_vs_ap(points, snakemake.params.style),
        points,
        snakemake.output.pdf,
        dpi=snakemake.params.style["dpi"],
    )
