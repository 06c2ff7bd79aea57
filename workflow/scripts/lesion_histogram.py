"""App. D: whole-volume histograms of normal vs anomalous voxels of one labelled data set."""

from pathlib import Path

from residual_pitfalls.data.histograms import lesion_histogram
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    lesion_histogram(
        [Path(p) for p in snakemake.input.images],
        [Path(p) for p in snakemake.input.labels],
        mask_files=[Path(p) for p in snakemake.input.masks] or None,
        anomaly_values=snakemake.params.anomaly_values,
        ignore_values=tuple(snakemake.params.ignore_values),
        bins=snakemake.params.bins,
        progress=True,
        **snakemake.params.load,
    ).to_csv(snakemake.output[0], index=False)
