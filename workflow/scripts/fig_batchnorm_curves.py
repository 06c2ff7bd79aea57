"""Fig. 3(a) twice over: Exp. 3.1 with BatchNorm on its running statistics (eval) and on each image's
own statistics (per_image, the original code), one panel per model, each mode with its matched blur."""

import pandas as pd

from residual_pitfalls.reporting.batchnorm_figure import batchnorm_facets
from residual_pitfalls.reporting.summaries import model_curve_csv, model_curve_table
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    style = snakemake.params.style
    grid = pd.read_parquet(snakemake.input.grid)
    labels = dict(zip(snakemake.params.models, snakemake.params.labels, strict=True))
    curves, matched = [], []
    for mode in ("eval", "per_image"):
        mode_curves, mode_matched = model_curve_table(
            [pd.read_parquet(p) for p in getattr(snakemake.input, mode)],
            labels,
            grid,
            matched_models=snakemake.params.models,  # every panel shows its model's matched blurs
            n_resamples=style["bootstrap"],
        )
        curves.append(mode_curves.assign(batchnorm=mode))
        matched.append(mode_matched.assign(batchnorm=mode))
    curves, matched = pd.concat(curves, ignore_index=True), pd.concat(matched, ignore_index=True)
    fig = batchnorm_facets(curves, matched, style)
    save_figure(fig, model_curve_csv(curves, matched), snakemake.output.pdf, dpi=style["dpi"])
    print(curves.groupby(["batchnorm", "model"], sort=False)[["matched_sigma", "censored"]].first())
