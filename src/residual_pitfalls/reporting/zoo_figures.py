"""The scorer zoo's figures (seaborn): tidy tables from ``reporting.zoo_summaries`` -> Figure.

Each function takes exactly the numbers it plots and a style mapping ({dpi, cmap, font_size});
``residual_pitfalls.reporting.figures.save_figure`` writes PDF + PNG + CSV.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from residual_pitfalls.reporting.figures import SIGMA_MARK, themed

# σ on the small panels (the paper figures' SIGMA_AXIS is too long for them)
PANEL_SIGMA_AXIS = "σ (blur, px)"


def _wrap(n: int) -> int:
    return min(4, max(1, n))


def _heatmap_panel(data: pd.DataFrame, cmap: str, **_: object) -> None:
    grid = data.pivot_table(index="intensity", columns="sigma", values="ap")
    sigmas = grid.columns.to_numpy(dtype=float)
    intensities = grid.index.to_numpy(dtype=float)
    ax = plt.gca()
    ax.imshow(
        grid.to_numpy()[::-1],
        cmap=cmap,
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
        extent=[sigmas.min(), sigmas.max(), intensities.min(), intensities.max()],
        aspect="auto",
    )
    ax.axvline(SIGMA_MARK, color="black", linestyle="--", linewidth=0.8)
    ax.grid(False)


@themed
def scores_heatmaps(exp1: pd.DataFrame, style: Mapping) -> plt.Figure:
    """Exp 1 per scorer: mean AP over (sigma, intensity), one panel per scorer, one colour scale
    [0, 1]. exp1: columns score, intensity, sigma, ap."""
    cmap = style.get("cmap", "coolwarm")
    n = exp1["score"].nunique()
    g = sns.FacetGrid(exp1, col="score", col_wrap=_wrap(n), height=2.4, aspect=1.05, sharey=True)
    g.map_dataframe(_heatmap_panel, cmap=cmap)
    g.set_titles("{col_name}")
    g.set_axis_labels(PANEL_SIGMA_AXIS, "anomaly intensity")
    g.figure.subplots_adjust(right=0.88, wspace=0.25)
    cax = g.figure.add_axes((0.91, 0.25, 0.015, 0.5))
    g.figure.colorbar(
        plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=cmap), cax=cax, label="mean AP"
    )
    return g.figure


def _band_panel(data: pd.DataFrame, color: object = None, **_: object) -> None:
    ax = plt.gca()
    data = data.sort_values("sigma")
    ax.fill_between(
        data["sigma"], data["blind_low"], data["blind_high"], color=color, alpha=0.5, lw=0
    )
    ax.plot(data["sigma"], data["blind_low"], color=color, lw=1)
    ax.plot(data["sigma"], data["blind_high"], color=color, lw=1)


@themed
def blindspot_bands(table: pd.DataFrame, style: Mapping, blind_ap: float) -> plt.Figure:
    """Per scorer, the band of intensities whose mean AP < `blind_ap` at each sigma.
    table: columns score, sigma, blind_low, blind_high (NaN: nothing blind at that sigma)."""
    n = table["score"].nunique()
    # limits at creation: set later, they would unhide the inner panels' tick labels
    g = sns.FacetGrid(table, col="score", col_wrap=_wrap(n), height=2.2, aspect=1.1, ylim=(0, 1))
    g.map_dataframe(_band_panel, color=sns.color_palette()[3])
    g.set_titles("{col_name}")
    g.set_axis_labels(PANEL_SIGMA_AXIS, "blind intensities")
    g.figure.suptitle(f"Exp. 1: intensities with mean AP < {blind_ap:g}", y=1.02)
    return g.figure


@themed
def texture_lines(table: pd.DataFrame, style: Mapping) -> plt.Figure:
    """Exp 2 per scorer: mean AP vs sigma, one panel per texture anomaly, one line per scorer.
    table: columns score, anomaly, sigma, ap."""
    g = sns.relplot(
        table,
        x="sigma",
        y="ap",
        hue="score",
        col="anomaly",
        kind="line",
        height=2.6,
        aspect=1.1,
        facet_kws={"ylim": (0, 1.02)},
    )
    g.set_titles("{col_name}")
    g.set_axis_labels(PANEL_SIGMA_AXIS, "mean AP")
    return g.figure


@themed
def exp3_lines(table: pd.DataFrame, style: Mapping, labels: Mapping[str, str]) -> plt.Figure:
    """Exp 3.1 / 3.2 per model and scorer: mean AP vs intensity; rows mode, columns model.
    table: columns model, mode, score, intensity, ap; labels: model -> display name."""
    modes = {"healthy": "Exp 3.1", "anomalous": "Exp 3.2"}  # caption: which image x̂ is of
    data = table.assign(
        model=table["model"].map(lambda m: labels.get(m, m)), mode=table["mode"].map(modes)
    )
    g = sns.relplot(
        data,
        x="intensity",
        y="ap",
        hue="score",
        col="model",
        row="mode",
        row_order=[v for k, v in modes.items() if k in set(table["mode"])],
        kind="line",
        height=2.3,
        aspect=1.1,
        facet_kws={"ylim": (0, 1.02), "margin_titles": True},
    )
    g.set_titles(col_template="{col_name}", row_template="{row_name}")
    g.set_axis_labels("anomaly intensity", "mean AP")
    return g.figure
