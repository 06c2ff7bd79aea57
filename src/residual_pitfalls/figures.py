"""Tidy tables -> matplotlib figures, one function per paper figure.

Each function takes the numbers it plots and a style mapping ({dpi, cmap, font_size}) and returns a
Figure; ``save_figure`` writes it as PDF + PNG beside the CSV of exactly those numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SIGMA_MARK = 0.25  # the paper's dashed line: below it the blur is nearly the identity


def _apply_style(style: Mapping) -> None:
    plt.rcParams.update({"font.size": float(style.get("font_size", 10)), "figure.dpi": 100})


def save_figure(fig: plt.Figure, table: pd.DataFrame, pdf_path: str | Path, dpi: int = 150) -> None:
    """Write `fig` to <name>.pdf and <name>.png and `table` to <name>.csv (same stem)."""
    pdf_path = Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(pdf_path, bbox_inches="tight")
    fig.savefig(pdf_path.with_suffix(".png"), dpi=dpi, bbox_inches="tight")
    table.to_csv(pdf_path.with_suffix(".csv"), index=False)
    plt.close(fig)


def intensity_sigma_heatmap(grid: pd.DataFrame, style: Mapping, title: str = "") -> plt.Figure:
    """Fig. 1(a) / 6(a): mean AP, rows intensity (ascending), columns sigma (ascending)."""
    _apply_style(style)
    sigmas = grid.columns.to_numpy(dtype=float)
    intensities = grid.index.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    image = ax.imshow(
        grid.to_numpy()[::-1],
        cmap=style.get("cmap", "coolwarm"),
        interpolation="nearest",
        extent=[sigmas.min(), sigmas.max(), intensities.min(), intensities.max()],
        aspect="auto",
    )
    ax.axvline(SIGMA_MARK, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("σ (Gaussian blur of the healthy image, px)")
    ax.set_ylabel("anomaly intensity")
    fig.colorbar(image, ax=ax, label="AP (mean over images)")
    if title:
        ax.set_title(title)
    return fig


def brain_histogram(
    hist: pd.DataFrame, summary: Mapping, style: Mapping, title: str = ""
) -> plt.Figure:
    """Fig. 1(b) / 6(b): histogram of brain-pixel intensities (columns bin_left, bin_right, count)."""
    _apply_style(style)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    widths = hist["bin_right"] - hist["bin_left"]
    ax.bar(
        hist["bin_left"],
        hist["count"],
        width=widths,
        align="edge",
        color="tab:blue",
        edgecolor="none",
    )
    ax.axvline(
        summary["mean"],
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"mean {summary['mean']:.3f}",
    )
    ax.axvline(
        summary["mode"],
        color="tab:red",
        linestyle=":",
        linewidth=1.2,
        label=f"mode {summary['mode']:.3f}",
    )
    ax.set_xlim(0, 1)
    ax.set_xlabel("intensity")
    ax.set_ylabel("frequency (brain pixels)")
    ax.legend(loc="upper right", framealpha=0.9)
    if title:
        ax.set_title(title)
    return fig


def _band_curves(ax, x, curves: pd.DataFrame, key: str) -> None:
    """Plot mean curves with their bootstrap bands; curves has columns key, x, ap, ap_low, ap_high."""
    for name, part in curves.groupby(key, sort=False):
        (line,) = ax.plot(part[x], part["ap"], label=str(name))
        ax.fill_between(
            part[x], part["ap_low"], part["ap_high"], color=line.get_color(), alpha=0.2, linewidth=0
        )


def texture_curves(curves: pd.DataFrame, matched: pd.DataFrame, style: Mapping) -> plt.Figure:
    """Fig. 2: AP vs sigma per texture anomaly (+ band) and the best-matching Exp 1 intensity row."""
    _apply_style(style)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    _band_curves(ax, "sigma", curves, "label")
    ax.plot(
        matched["sigma"],
        matched["ap"],
        color="black",
        linestyle="-.",
        label=f"Exp. 1: intensity {matched['intensity'].iloc[0]:.2f}",
    )
    ax.axvline(SIGMA_MARK, color="tab:red", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("σ")
    ax.set_ylabel("AP")
    ax.legend(frameon=False)
    return fig


def model_curves(
    curves: pd.DataFrame, matched: pd.DataFrame | None, style: Mapping, title: str
) -> plt.Figure:
    """Fig. 3(a)/(b): AP vs intensity per model (+ band), optional dashed matched-blur curves."""
    _apply_style(style)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    _band_curves(ax, "intensity", curves, "label")
    if matched is not None:
        for i, (model, part) in enumerate(matched.groupby("matched_to", sort=False)):
            ax.plot(
                part["intensity"],
                part["ap"],
                linestyle=("--", ":", "-.")[i % 3],
                color="black",
                label=f"Gaussian blur σ={part['sigma'].iloc[0]:.2f} ({model})",
            )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("intensity")
    ax.set_ylabel("AP")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize="small")
    return fig


def image_grid(
    rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]],
    style: Mapping,
    residual_columns: Sequence[int] = (),
) -> plt.Figure:
    """Fig. 4(a) / 5: a grid of images; rows = (row label, [(column title, (H, W) image), ...]).

    Columns listed in residual_columns are anomaly maps (hot colormap, own scale); others are grey
    in [0, 1].
    """
    _apply_style(style)
    n_rows, n_cols = len(rows), max(len(r[1]) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.2 * n_cols, 2.2 * n_rows), squeeze=False)
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
                ax.imshow(image, cmap="hot", vmin=0, vmax=max(float(image.max()), 1e-6))
            else:
                ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_title(col_title, fontsize="small")
            if c == 0:
                ax.set_ylabel(row_label)
    fig.tight_layout()
    return fig


def error_vs_ap(points: pd.DataFrame, style: Mapping) -> plt.Figure:
    """Fig. 4(b): one point per model (columns label, reconstruction_error, ap)."""
    _apply_style(style)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    markers = "osD^vP*Xhp"
    for i, p in enumerate(points.itertuples()):
        ax.scatter(p.reconstruction_error, p.ap, marker=markers[i % len(markers)], label=p.label)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize="small")
    ax.set_xlabel("reconstruction error (mean |x̂ − x|, healthy test set)")
    ax.set_ylabel("AP (mean over intensities, Exp. 3.2)")
    return fig


def lesion_histograms(hists: Mapping[str, pd.DataFrame], style: Mapping) -> plt.Figure:
    """Figs. 7 / 8: normal vs anomalous voxel densities per data set, one panel each."""
    _apply_style(style)
    fig, axes = plt.subplots(1, len(hists), figsize=(4.5 * len(hists), 3.3), squeeze=False)
    for ax, (name, hist) in zip(axes[0], hists.items(), strict=True):
        centres = (hist["bin_left"] + hist["bin_right"]) / 2
        width = hist["bin_right"] - hist["bin_left"]
        ax.bar(centres, hist["normal_density"], width=width, alpha=0.6, label="normal")
        ax.bar(centres, hist["anomalous_density"], width=width, alpha=0.6, label="anomalous")
        ax.set_title(name)
        ax.set_xlabel("intensity")
        ax.set_ylabel("density")
        ax.set_xlim(0, 1)
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig
