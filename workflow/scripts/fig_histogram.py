"""Fig. 1(b) / 6(b): histogram of the brain-pixel intensities of the test slices (mean, mode in CSV)."""

import numpy as np

from residual_pitfalls.data.histograms import brain_histogram, brain_intensity_summary
from residual_pitfalls.reporting.figures import plot_brain_histogram
from residual_pitfalls.reporting.theme import save_figure
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    images = np.load(snakemake.input[0])
    hist = brain_histogram(images, bins=snakemake.params.bins)
    summary = brain_intensity_summary(images, bins=snakemake.params.bins)
    for key, value in summary.items():
        hist[key] = value
    fig = plot_brain_histogram(hist, summary, snakemake.params.style, snakemake.params.title)
    save_figure(fig, hist, snakemake.output.pdf, dpi=snakemake.params.style["dpi"])
    print(summary)
