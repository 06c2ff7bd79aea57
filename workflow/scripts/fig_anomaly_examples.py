"""Fig. 5 (App. A): each anomaly type, the blurred healthy image and the residual map."""

import numpy as np
import pandas as pd

from residual_pitfalls.experiments.paper import texture_rng
from residual_pitfalls.reporting.figures import image_grid
from residual_pitfalls.reporting.summaries import anomaly_example_rows
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    images = np.load(snakemake.input.images)
    centres = pd.read_csv(snakemake.input.centres)[["row", "col"]].to_numpy()
    rows, table = anomaly_example_rows(
        images[0],
        tuple(centres[0]),
        radius=snakemake.params.radius,
        intensity=snakemake.params.intensity,
        sigma=snakemake.params.sigma,
        rng=texture_rng(snakemake.params.seed, 0),
    )
    fig = image_grid(rows, snakemake.params.style, residual_columns=(2,), residual_label="|x̂ − x|")
    save_figure(fig, table, snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
