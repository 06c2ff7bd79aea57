"""Fig. 3(a)/(b): AP vs intensity per model; in (a) the best-matching blur curves. (a)'s CSV is the
matched-sigma table of every model; column `drawn` marks the rows the figure plots."""

import pandas as pd

from residual_pitfalls.reporting.figures import model_curves
from residual_pitfalls.reporting.summaries import model_curve_csv, model_curve_table
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    style = snakemake.params.style
    labels = dict(zip(snakemake.params.models, snakemake.params.labels, strict=True))
    grid = getattr(snakemake.input, "grid", None)
    curves, matched = model_curve_table(
        [pd.read_parquet(p) for p in snakemake.input.curves],
        labels,
        pd.read_parquet(grid) if grid else None,
        matched_models=snakemake.params.matched,
        n_resamples=style["bootstrap"],
    )
    families = dict(zip(snakemake.params.labels, snakemake.params.families, strict=True))
    # Fig. 3(a) draws evaluation.paper_models; its CSV (the matched-sigma table) has every model
    drawn = getattr(snakemake.params, "drawn", snakemake.params.models)
    shown = curves[curves["model"].isin(drawn)]
    fig = model_curves(
        shown, matched if len(matched) else None, style, snakemake.params.title, families
    )
    # Fig. 3(a) has the same columns whether or not evaluation.matched_models is empty
    table = model_curve_csv(curves, matched) if grid else curves
    if grid:
        table["drawn"] = table["model"].isin(drawn) | (table["curve"] == "matched_blur")
    save_figure(fig, table, snakemake.output.pdf, dpi=style["dpi"])
    if "matched_sigma" in curves:
        print(curves.groupby("model")[["matched_sigma", "censored"]].first())
