"""Tidy tables -> figures, one function per paper figure, all in one seaborn theme.

Each function takes the numbers it plots and a style mapping ({dpi, cmap, font_size}) and returns a
Figure; ``reporting.theme.save_figure`` writes it as PDF + PNG beside the CSV of exactly those
numbers. Statistical plots (heatmaps, curves, histograms, scatter) are drawn through seaborn inside
``reporting.theme.figure_theme``; image panels (Figs. 4(a), 5) through matplotlib (see ``image_grid``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from residual_pitfalls.reporting.styles import model_styles  # noqa: E402
from residual_pitfalls.reporting.theme import PALETTE, themed  # noqa: E402

SIGMA_MARK = 0.25  # the paper's dashed line: below it the blur is nearly the identity
SIGMA_MARK_LABEL = f"σ = {SIGMA_MARK} px: the blur is nearly the identity"
SIGMA_AXIS = "σ (Gaussian blur of the healthy image, px)"
# Curves: one line style per model family (in order of appearance), one marker per curve.
FAMILY_STYLES = ("-", "--", "-.", (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1)))
MARKERS = "osD^vPX*hp<>"


def _sigma_mark(color: str = "black") -> dict:
    return {"color": color, "linestyle": "--", "linewidth": 1, "label": SIGMA_MARK_LABEL}


def _value_ticks(values: np.ndarray, axis, rows: bool) -> Callable[[float], float]:
    """Label a heatmap axis in data units: ticks at round values, placed by interpolation between
    the cell centres (cell i spans [i, i + 1]; rows are drawn top to bottom, so reversed). Returns
    the value -> position map for marks on that axis."""
    centres = np.arange(len(values)) + 0.5
    if rows:
        centres = centres[::-1]
    ticks = MaxNLocator(nbins=5).tick_values(values.min(), values.max())
    ticks = ticks[(ticks >= values.min() - 1e-9) & (ticks <= values.max() + 1e-9)]

    def position(v):
        return np.interp(v, values, centres)

    axis.set_ticks(position(ticks), [f"{t:g}" for t in ticks], rotation=0)
    return position


@themed
def intensity_sigma_heatmap(grid: pd.DataFrame, style: Mapping, title: str = "") -> plt.Figure:
    """Fig. 1(a) / 6(a): mean AP in [0, 1], rows intensity (ascending), columns sigma (ascending);
    drawn with intensity increasing upwards."""
    sigmas = grid.columns.to_numpy(dtype=float)
    intensities = grid.index.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    sns.heatmap(
        grid.iloc[::-1],
        ax=ax,
        cmap=style.get("cmap", "coolwarm"),
        vmin=0,
        vmax=1,
        cbar_kws={"label": "AP (mean over images)"},
    )
    x_at = _value_ticks(sigmas, ax.xaxis, rows=False)
    _value_ticks(intensities, ax.yaxis, rows=True)
    if sigmas.min() <= SIGMA_MARK <= sigmas.max():
        ax.axvline(x_at(SIGMA_MARK), **_sigma_mark())
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    ax.set_xlabel(SIGMA_AXIS)
    ax.set_ylabel("anomaly intensity")
    if title:
        ax.set_title(title)
    return fig


def _bin_edges(hist: pd.DataFrame) -> tuple[np.ndarray, list[float]]:
    """(bin centres, bin edges) of a table with contiguous bin_left, bin_right columns. The edges are
    a list: seaborn 0.13.2 compares `bins == "auto"`, which fails on an array when weights are given."""
    left, right = hist["bin_left"].to_numpy(float), hist["bin_right"].to_numpy(float)
    if not np.allclose(left[1:], right[:-1]):
        raise ValueError("histogram bins are not contiguous (bin_left[i + 1] != bin_right[i])")
    return (left + right) / 2, np.append(left, right[-1]).tolist()


@themed
def plot_brain_histogram(
    hist: pd.DataFrame, summary: Mapping, style: Mapping, title: str = ""
) -> plt.Figure:
    """Fig. 1(b) / 6(b): histogram of brain-pixel intensities (columns bin_left, bin_right, count),
    with the summary's mean and mode marked. The bars are exactly the `count` column."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    centres, edges = _bin_edges(hist)
    # One weighted sample per bin centre on the table's own edges: each bar is that bin's count.
    sns.histplot(x=centres, weights=hist["count"].to_numpy(), bins=edges, ax=ax, linewidth=0)
    for stat, colour, linestyle, width in (
        ("mean", "black", "--", 1),
        ("mode", "tab:red", ":", 1.2),
    ):
        value = summary[stat]
        ax.axvline(
            value, color=colour, linestyle=linestyle, linewidth=width, label=f"{stat} {value:.3f}"
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel("intensity")
    ax.set_ylabel("frequency (brain pixels)")
    # above the axes: on the axes it covered bars (Fig. 6(b)'s equalised histogram fills them)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False)
    if title:
        ax.set_title(title, pad=24)
    sns.despine(ax=ax)
    return fig


def _band_curves(
    ax: plt.Axes,
    curves: pd.DataFrame,
    x: str,
    key: str,
    families: Mapping[str, str] | None = None,
    styles: Mapping[str, tuple[str, str]] | None = None,
) -> None:
    """Mean curves (columns key, x, ap, ap_low, ap_high) with their bootstrap bands.

    Each curve has its own colour and marker; curves of one family (families: key -> family) share
    a line style. The first curve is drawn on top; markers of curves drawn below are larger and
    staggered along x, so curves that coincide all stay visible. styles: name -> (colour, marker)
    (``reporting.styles.model_style``), so a model looks the same in every figure; else by order.
    """
    palette = sns.color_palette(PALETTE)
    names = list(dict.fromkeys(curves[key]))
    family_of = {name: (families or {}).get(name, "") for name in names}
    family_names = list(dict.fromkeys(family_of.values()))
    for i, name in enumerate(names):
        part = curves[curves[key] == name].sort_values(x)
        colour, marker = (styles or {}).get(
            name, (palette[i % len(palette)], MARKERS[i % len(MARKERS)])
        )
        every = max(1, len(part) // 8)
        sns.lineplot(
            data=part,
            x=x,
            y="ap",
            ax=ax,
            estimator=None,  # the rows are already the means: draw them as they are
            sort=False,
            legend=False,
            label=str(name),
            color=colour,
            linestyle=FAMILY_STYLES[family_names.index(family_of[name]) % len(FAMILY_STYLES)],
            # hollow markers, larger for curves drawn lower: coinciding curves nest, all visible
            marker=marker,
            markersize=4 + 6 * i / max(1, len(names) - 1),
            markerfacecolor="white",
            markeredgecolor=colour,
            markeredgewidth=1.2,
            markevery=(i * every // len(names), every),
            zorder=3 + len(names) - i,
        )
        # The band is the CSV's bootstrap interval; seaborn's own errorbar would resample again.
        ax.fill_between(
            part[x],
            part["ap_low"],
            part["ap_high"],
            color=colour,
            alpha=0.15,
            linewidth=0,
        )


def _reference_curve(ax: plt.Axes, data: pd.DataFrame, x: str, label: str, **line) -> None:
    """A black reference curve (column ap vs `x`) drawn below the bands: Fig. 2's matched Exp 1
    row, Fig. 3(a)'s matched blur. `line`: line style keywords (linestyle, linewidth)."""
    sns.lineplot(
        data=data,
        x=x,
        y="ap",
        ax=ax,
        estimator=None,  # the rows are already the means: draw them as they are
        legend=False,
        color="black",
        zorder=2,
        label=label,
        **line,
    )


@themed
def texture_curves(curves: pd.DataFrame, matched: pd.DataFrame, style: Mapping) -> plt.Figure:
    """Fig. 2: AP vs sigma per texture anomaly (+ band) and the best-matching Exp 1 intensity row."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    _band_curves(ax, curves, "sigma", "label")
    label = f"Exp. 1: intensity {matched['intensity'].iloc[0]:.2f}"
    _reference_curve(ax, matched, "sigma", label, linestyle="-.")
    ax.axvline(SIGMA_MARK, **_sigma_mark("tab:red"))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(SIGMA_AXIS)
    ax.set_ylabel("AP")
    # below the axes in two columns: at the right it took 40 % of the figure's width
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    sns.despine(ax=ax)
    return fig


@themed
def model_curves(
    curves: pd.DataFrame,
    matched: pd.DataFrame | None,
    style: Mapping,
    title: str,
    families: Mapping[str, str] | None = None,
) -> plt.Figure:
    """Fig. 3(a)/(b): AP vs intensity per model (+ band), optional matched-blur curves (black).

    families: label -> model family (e.g. the architecture); a family shares a line style.
    """
    fig, ax = plt.subplots(figsize=(6, 3.8))
    _band_curves(ax, curves, "intensity", "label", families, model_styles(curves))
    if matched is not None:
        # Models that match the same blur share one curve (identical rows) and one legend entry.
        for i, (sigma, part) in enumerate(matched.groupby("sigma", sort=False)):
            models = ", ".join(dict.fromkeys(part["matched_to"]))
            _reference_curve(
                ax,
                part[part["matched_to"] == part["matched_to"].iloc[0]],
                "intensity",
                f"Gaussian blur σ = {sigma:.2f} px (matches {models})",
                linestyle=(":", (0, (3, 2)), "-.")[i % 3],
                linewidth=1,
            )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("anomaly intensity")
    ax.set_ylabel("AP")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize="small")
    sns.despine(ax=ax)
    return fig


@themed
def image_grid(
    rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]],
    style: Mapping,
    residual_columns: Sequence[int] = (),
    residual_label: str = "|x̂ − x|",
) -> plt.Figure:
    """Fig. 4(a) / 5: a grid of images; rows = (row label, [(column title, (H, W) image), ...]).

    Columns listed in residual_columns are anomaly maps: hot colormap on one scale per column
    (0 .. the column's maximum) with a colour bar; the others are grey in [0, 1].
    Drawn with matplotlib's imshow, not seaborn: these are images, not statistics, and
    sns.heatmap would draw every pixel as a separate cell with tick labels.
    """
    n_rows, n_cols = len(rows), max(len(r[1]) for r in rows)
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(2.3 * n_cols + 0.6 * len(residual_columns), 2.2 * n_rows),
        squeeze=False,
        layout="constrained",
    )
    vmax = {
        c: max([float(p[c][1].max()) for _, p in rows if c < len(p)] + [1e-6])
        for c in residual_columns
    }
    for r, (row_label, panels) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(panels):
                ax.axis("off")
                continue
            col_title, image = panels[c]
            image = np.rot90(image)  # RAS slices (x, y) shown with anterior up, left on the left
            if c in residual_columns:
                ax.imshow(image, cmap="hot", vmin=0, vmax=vmax[c])
            else:
                ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_title(col_title, fontsize="small")
            if c == 0:
                ax.set_ylabel(row_label)
    for c in residual_columns:
        mappable = plt.cm.ScalarMappable(plt.Normalize(0, vmax[c]), cmap="hot")
        fig.colorbar(mappable, ax=axes[:, c], label=residual_label, shrink=0.6)
    return fig


@themed
def error_vs_ap(points: pd.DataFrame, style: Mapping) -> plt.Figure:
    """Fig. 4(b): one point per model (columns label, reconstruction_error, ap)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    labels = list(points["label"])
    palette = sns.color_palette(PALETTE)
    styles = {
        label: (palette[i % len(palette)], MARKERS[i % len(MARKERS)])
        for i, label in enumerate(labels)
    } | model_styles(points)
    sns.scatterplot(
        data=points,
        x="reconstruction_error",
        y="ap",
        hue="label",
        style="label",
        hue_order=labels,
        style_order=labels,
        s=60,
        ax=ax,
        palette={label: styles[label][0] for label in labels},
        markers={label: styles[label][1] for label in labels},
    )
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize="small")
    ax.set_xlabel("reconstruction error (mean |x̂ − x|, healthy test set)")
    ax.set_ylabel("AP (mean over intensities, Exp. 3.2)")
    sns.despine(ax=ax)
    return fig


@themed
def lesion_histograms(hists: Mapping[str, pd.DataFrame], style: Mapping) -> plt.Figure:
    """Figs. 7 / 8: normal vs anomalous voxel densities per data set, one panel each. The bars are
    exactly the normal_density / anomalous_density columns."""
    fig, axes = plt.subplots(1, len(hists), figsize=(4.5 * len(hists), 3.3), squeeze=False)
    for ax, (name, hist) in zip(axes[0], hists.items(), strict=True):
        centres, edges = _bin_edges(hist)
        long = pd.concat(
            [
                pd.DataFrame(
                    {"intensity": centres, "density": hist[f"{kind}_density"], "voxels": kind}
                )
                for kind in ("normal", "anomalous")
            ],
            ignore_index=True,
        )
        # One weighted sample per bin centre and kind: each bar is that bin's density.
        sns.histplot(
            data=long,
            x="intensity",
            weights="density",
            hue="voxels",
            bins=edges,
            alpha=0.5,
            linewidth=0,
            ax=ax,
        )
        ax.get_legend().set_frame_on(False)
        ax.set_title(name)
        ax.set_ylabel("density")
        ax.set_xlim(0, 1)
        sns.despine(ax=ax)
    fig.tight_layout()
    return fig
