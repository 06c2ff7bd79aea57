"""Exp 4's figures: set metrics per model x scorer; detection rate vs healthy-histogram percentile
with the Exp 1 prediction. Each takes exactly the table it plots (``save_figure`` writes it)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from residual_pitfalls.reporting.styles import model_style  # noqa: E402
from residual_pitfalls.reporting.theme import themed  # noqa: E402

METRIC_LABELS = {
    "per_image_ap": "per-image AP",
    "pooled_ap": "pooled AP",
    "best_dice": "best Dice",
    "auroc": "AUROC",
}


@themed
def lesion_metrics(table: pd.DataFrame, style: Mapping, title: str = "") -> plt.Figure:
    """One heatmap per metric: rows model, columns scorer, annotated. table: model, score,
    <METRIC_LABELS keys>."""
    models = list(dict.fromkeys(table["model"]))
    scorers = list(dict.fromkeys(table["score"]))
    fig, axes = plt.subplots(
        1, len(METRIC_LABELS), figsize=(3.2 * len(METRIC_LABELS), 0.45 * len(models) + 2.2)
    )
    for ax, (metric, label) in zip(np.atleast_1d(axes), METRIC_LABELS.items(), strict=True):
        grid = table.pivot(index="model", columns="score", values=metric).loc[models, scorers]
        ax.imshow(grid.to_numpy(float), cmap=style.get("cmap", "coolwarm"), vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(grid.to_numpy(float)):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6)
        ax.set_xticks(range(len(scorers)), scorers, rotation=60, ha="right")
        ax.set_yticks(range(len(models)), models if ax is np.atleast_1d(axes)[0] else [])
        ax.set_title(label)
        ax.grid(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@themed
def lesion_detection(table: pd.DataFrame, style: Mapping, title: str = "") -> plt.Figure:
    """One panel per scorer: detection rate vs percentile bin centre, a line per model (solid)
    and its Exp 1 prediction (dashed, same colour). table: by_intensity_table's columns. Each
    model has its colour and marker of every figure (``reporting.styles.model_style``)."""
    scorers = list(dict.fromkeys(table["score"]))
    cols = min(4, len(scorers))
    rows = -(-len(scorers) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.6 * rows), squeeze=False)
    for ax, score in zip(axes.ravel(), scorers, strict=False):
        for model, part in table[table["score"] == score].groupby("model", sort=False):
            colour, marker = model_style(model)
            centre = (part["bin_left"] + part["bin_right"]) / 2
            ax.plot(
                centre, part["detection_rate"], "-", marker=marker, color=colour, label=model, ms=3
            )
            ax.plot(centre, part["predicted_ap"], "--", color=colour, lw=1)
        ax.set_title(score)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlim(0, 100)
        ax.set_xlabel("percentile in healthy histogram")
        ax.set_ylabel("detected share / Exp 1 AP")
    for ax in axes.ravel()[len(scorers) :]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=6, title="solid: detected; dashed: Exp 1 AP", title_fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
