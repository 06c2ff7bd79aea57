"""One disk centre per test image, drawn inside the brain with default_rng([seed, image])."""

import numpy as np
import pandas as pd

from residual_pitfalls.anomalies import anomaly_centres
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    centres = anomaly_centres(np.load(snakemake.input[0]), seed=snakemake.params.seed)
    pd.DataFrame(
        {
            "image": np.arange(len(centres)),
            "row": centres[:, 0],
            "col": centres[:, 1],
            "radius": snakemake.params.radius,
        }
    ).to_csv(snakemake.output[0], index=False)
