"""Exp 4: per-image AP, pooled AP, best Dice and AUROC of every model x scorer on a lesion set."""

import pandas as pd

from residual_pitfalls.lesions.figures import lesion_metrics
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    table = pd.concat([pd.read_csv(p) for p in snakemake.input], ignore_index=True)
    title = f"Exp. 4 on lesion set {snakemake.wildcards.lesion_set!r}"
    fig = lesion_metrics(table, snakemake.params.style, title)
    save_figure(fig, table, snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
