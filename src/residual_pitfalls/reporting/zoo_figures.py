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
from matplotlib.lines import Line2D  # noqa: E402

from residual_pitfalls.reporting.figures import SIGMA_MARK  # noqa: E402
from residual_pitfalls.reporting.styles import scorer_palette  # noqa: E402
from residual_pitfalls.reporting.theme import themed  # noqa: E402

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
    palette, dashes = scorer_palette(dict.fromkeys(table["score"]))
    g = sns.relplot(
        table,
        x="sigma",
        y="ap",
        hue="score",
        style="score",
        palette=palette,
        dashes=dashes,
        col="anomaly",
        kind="line",
        height=2.6,
        aspect=1.1,
        linewidth=1.4,
        facet_kws={"ylim": (0, 1.02)},
    )
    g.set_titles("{col_name}")
    g.set_axis_labels(PANEL_SIGMA_AXIS, "mean AP")
    return g.figure


def best_alternatives(table: pd.DataFrame, reference: str = "residual") -> pd.DataFrame:
    """Per (model, mode): the scorer other than `reference` with the highest mean AP over the
    intensities. table: columns model, mode, score, intensity, ap -> model, mode, score."""
    means = table[table["score"] != reference].groupby(["model", "mode", "score"], sort=False)["ap"]
    means = means.mean().reset_index()
    best = means.loc[means.groupby(["model", "mode"], sort=False)["ap"].idxmax()]
    return best[["model", "mode", "score"]].reset_index(drop=True)


def _exp3_panel(data: pd.DataFrame, best: str, palette: Mapping, reference: str) -> None:
    ax = plt.gca()
    for score, part in data.groupby("score", sort=False):
        part = part.sort_values("intensity")
        if score in (reference, best):
            ax.plot(part["intensity"], part["ap"], color=palette[score], lw=1.8, zorder=3)
        else:  # the rest, light: there for context, not to be read one by one
            ax.plot(part["intensity"], part["ap"], color="0.8", lw=0.7, zorder=1)


@themed
def exp3_lines(
    table: pd.DataFrame, style: Mapping, labels: Mapping[str, str], reference: str = "residual"
) -> plt.Figure:
    """Exp 3.1 / 3.2 per model: mean AP vs intensity of the residual (`reference`) and of the best
    other scorer of that panel (mean AP over intensities), the other scorers light grey; rows model,
    columns mode. table: columns model, mode, score, intensity, ap; labels: model -> display name."""
    modes = {
        "healthy": "Exp 3.1 (x̂ of the healthy image)",
        "anomalous": "Exp 3.2 (x̂ of the anomalous)",
    }
    best = best_alternatives(table, reference).set_index(["model", "mode"])["score"]
    palette, _ = scorer_palette(dict.fromkeys(table["score"]))
    models = list(dict.fromkeys(table["model"]))
    mode_order = [m for m in modes if m in set(table["mode"])]
    g = sns.FacetGrid(
        table,
        row="model",
        col="mode",
        row_order=models,
        col_order=mode_order,
        height=1.9,
        aspect=1.6,
        ylim=(0, 1.02),
    )
    for (model, mode), ax in g.axes_dict.items():
        plt.sca(ax)
        part = table[(table["model"] == model) & (table["mode"] == mode)]
        _exp3_panel(part, best.get((model, mode)), palette, reference)
    for (model, mode), ax in g.axes_dict.items():
        ax.set_title(modes[mode] if model == models[0] else "")
        if mode == mode_order[0]:
            ax.set_ylabel(f"{labels.get(model, model)}\nmean AP", fontsize="small")
    g.set_xlabels("anomaly intensity")
    shown = [reference, *dict.fromkeys(best)]
    handles = [Line2D([], [], color=palette[s], lw=1.8, label=s) for s in shown]
    handles.append(Line2D([], [], color="0.8", lw=0.7, label="the other scorers"))
    g.figure.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=3,
        frameon=False,
        title=f"{reference} and the best other scorer of each panel",
    )
    return g.figure
