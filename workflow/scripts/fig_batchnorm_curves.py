"""Fig. 3(a) twice over: Exp. 3.1 with BatchNorm on its running statistics (eval) and on each image's
own statistics (per_image, the original code), each mode with its matched blur curves."""

import pandas as pd

from residual_pitfalls.reporting.figures import model_curves, save_figure
from residual_pitfalls.reporting.summaries import model_curve_csv, model_curve_table
from residual_pitfalls.runlog import job_log

TAGS = {"eval": "eval BN", "per_image": "per-image BN"}

with job_log(snakemake.log[0]):
    style = snakemake.params.style
    grid = pd.read_parquet(snakemake.input.grid)
    names = dict(zip(snakemake.params.models, snakemake.params.labels, strict=True))
    curves, matched = [], []
    for mode, tag in TAGS.items():
        mode_curves, mode_matched = model_curve_table(
            [pd.read_parquet(p) for p in getattr(snakemake.input, mode)],
            {model: f"{label} ({tag})" for model, label in names.items()},
            grid,
            matched_models=snakemake.params.matched,
            n_resamples=style["bootstrap"],
        )
        curves.append(mode_curves.assign(batchnorm=mode))
        matched.append(mode_matched.assign(batchnorm=mode))
    curves, matched = pd.concat(curves, ignore_index=True), pd.concat(matched, ignore_index=True)
    fig = model_curves(curves, matched if len(matched) else None, style, snakemake.params.title)
    save_figure(fig, model_curve_csv(curves, matched), snakemake.output.pdf, dpi=style["dpi"])
    print(curves.groupby(["batchnorm", "model"], sort=False)[["matched_sigma", "censored"]].first())
