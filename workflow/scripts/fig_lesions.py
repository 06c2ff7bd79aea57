"""Figs. 7 / 8 (App. D): normal vs anomalous voxel histograms of labelled lesion data sets."""

import pandas as pd

from residual_pitfalls.reporting.figures import lesion_histograms
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    hists = {
        name: pd.read_csv(p)
        for name, p in zip(snakemake.params.names, snakemake.input, strict=True)
    }
    table = pd.concat([h.assign(dataset=name) for name, h in hists.items()], ignore_index=True)
    save_figure(
        lesion_histograms(hists, snakemake.params.style),
        table,
        snakemake.output.pdf,
        dpi=snakemake.params.style["dpi"],
    )
