"""results/fig3_modern: Exp 3.1 and 3.2 of the models beyond the paper's six (the denoising
autoencoder, the diffusion model, your own) beside the paper's reference models.

One table holds exactly what the figure plots: per model and experiment the mean AP curve over the
anomaly intensity with its 95 % bootstrap band, plus two summary columns per model: the blur sigma
whose Exp 1 curve matches its Exp 3.1 curve best (``censored``: at the edge of the sigma grid) and its
mean Exp 3.2 AP over all intensities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from residual_pitfalls.reporting.figures import _band_curves
from residual_pitfalls.reporting.styles import model_styles
from residual_pitfalls.reporting.summaries import model_curve_table
from residual_pitfalls.reporting.theme import themed

__all__ = ["modern_curve_table", "modern_curves"]

# column mode (as in the Exp 3 file names) -> panel title
EXPERIMENTS = {
    "healthy": "Exp. 3.1: reconstructs the healthy image",
    "anomalous": "Exp. 3.2: reconstructs the anomalous image",
}


def modern_curve_table(
    healthy: Sequence[pd.DataFrame],
    anomalous: Sequence[pd.DataFrame],
    labels: Mapping[str, str],
    grid: pd.DataFrame,
    n_resamples: int,
) -> pd.DataFrame:
    """Columns mode (healthy: Exp 3.1, anomalous: Exp 3.2), model, label, intensity, ap, ap_low, ap_high, matched_sigma, censored,
    mean_ap_exp32. ``healthy``/``anomalous``: the Exp 3 curve tables (model_intensity_curve) of the
    same models; ``grid``: the Exp 1 table the Exp 3.1 curves are matched against."""
    exp31, _ = model_curve_table(healthy, labels, grid, (), n_resamples)
    exp32, _ = model_curve_table(anomalous, labels, None, (), n_resamples)
    summary = exp31.groupby("model", sort=False)[["matched_sigma", "censored"]].first()
    summary["mean_ap_exp32"] = exp32.groupby("model", sort=False)["ap"].mean()
    if summary["mean_ap_exp32"].isna().any():
        missing = summary.index[summary["mean_ap_exp32"].isna()].tolist()
        raise ValueError(f"no Exp 3.2 curve for model(s) {missing}")
    table = pd.concat(
        [
            exp31.drop(columns=["matched_sigma", "censored"]).assign(mode="healthy"),
            exp32.assign(mode="anomalous"),
        ],
        ignore_index=True,
    )
    table = table.join(summary, on="model")
    return table[["mode", *[c for c in table.columns if c != "mode"]]]


@themed
def modern_curves(
    table: pd.DataFrame, style: Mapping, families: Mapping[str, str] | None = None
) -> plt.Figure:
    """Two panels (Exp 3.1, Exp 3.2) of AP vs intensity, one curve + band per model; the legend
    gives each model's matched sigma and mean Exp 3.2 AP. families: label -> line-style family."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    summary = table.groupby("label", sort=False)[
        ["matched_sigma", "censored", "mean_ap_exp32"]
    ].first()
    names = {
        label: f"{label} (σ {'≥' if row.censored and row.matched_sigma > 0 else '='} "
        f"{row.matched_sigma:.2f}, mean AP 3.2 = {row.mean_ap_exp32:.2f})"
        for label, row in summary.iterrows()
    }
    fams = {names[k]: v for k, v in (families or {}).items() if k in names}
    looks = {names[k]: v for k, v in model_styles(table).items() if k in names}  # as every figure
    for ax, (mode, title) in zip(axes, EXPERIMENTS.items(), strict=True):
        part = table[table["mode"] == mode].assign(name=lambda t: t["label"].map(names))
        _band_curves(ax, part, "intensity", "name", fams, looks)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("anomaly intensity")
        ax.set_ylabel("AP")
        ax.set_title(title)
        sns.despine(ax=ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, -0.02 - 0.05 * len(names)),
               frameon=False, fontsize="small", ncol=1)  # fmt: skip
    fig.tight_layout()
    return fig
