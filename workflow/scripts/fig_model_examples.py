"""Fig. 4(a): anomalous input, reconstruction and anomaly map for three models."""

import numpy as np
import pandas as pd

from residual_pitfalls.reporting.figures import image_grid
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    rows, table = [], []
    models, labels = snakemake.params.models, snakemake.params.labels
    for path, model, label in zip(snakemake.input, models, labels, strict=True):
        examples = np.load(path)
        rows.append(
            (
                label,
                [
                    ("input", examples["input"][0]),
                    ("reconstruction", examples["reconstruction"][0]),
                    ("|x̂ − x|", examples["anomaly_map"][0]),
                ],
            )
        )
        table.append(
            {
                "model": model,
                "label": label,
                "intensity": float(examples["intensity"]),
                "map_mean_inside_anomaly": float(
                    examples["anomaly_map"][0][examples["label"][0]].mean()
                ),
                "map_mean_outside_anomaly": float(
                    examples["anomaly_map"][0][~examples["label"][0]].mean()
                ),
            }
        )
    fig = image_grid(rows, snakemake.params.style, residual_columns=(2,))
    save_figure(fig, pd.DataFrame(table), snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
