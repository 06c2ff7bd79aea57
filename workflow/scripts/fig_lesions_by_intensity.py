"""Exp 4: detection rate vs healthy-histogram percentile, with the Exp 1 prediction."""

import pandas as pd

from residual_pitfalls.lesions.figures import lesion_detection
from residual_pitfalls.lesions.summaries import by_intensity_table, matched_sigmas
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    table = by_intensity_table(
        pd.concat([pd.read_parquet(p) for p in snakemake.input.lesions], ignore_index=True),
        {
            s: pd.read_parquet(p)
            for s, p in zip(snakemake.params.scores, snakemake.input.exp1, strict=True)
        },
        matched_sigmas(pd.read_csv(snakemake.input.fig3a)),
        bins=snakemake.params.bins,
    )
    title = f"Exp. 4 on lesion set {snakemake.wildcards.lesion_set!r}: detected lesions"
    fig = lesion_detection(table, snakemake.params.style, title)
    save_figure(fig, table, snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
