"""Fig. 2: AP vs sigma per texture anomaly, with the best-matching Exp 1 intensity row."""

import pandas as pd

from residual_pitfalls.reporting.figures import texture_curves
from residual_pitfalls.reporting.summaries import texture_table
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    style = snakemake.params.style
    curves, matched = texture_table(
        [pd.read_parquet(p) for p in snakemake.input.textures],
        pd.read_parquet(snakemake.input.grid),
        n_resamples=style["bootstrap"],
    )
    fig = texture_curves(curves, matched, style)
    table = pd.concat(
        [
            curves,
            matched.assign(
                anomaly="exp1_matched_intensity",
                label=f"Exp. 1: intensity {matched['intensity'].iloc[0]:.2f}",
            ),
        ],
        ignore_index=True,
    )
    save_figure(fig, table, snakemake.output.pdf, dpi=style["dpi"])
