"""The figure functions draw exactly the numbers of their tables, in one theme, and stay readable."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from helpers import FIGURES, readme_csv_columns
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.colors import to_rgb
from matplotlib.patches import Rectangle

from residual_pitfalls.reporting import figures, theme

STYLE = {"dpi": 80, "cmap": "coolwarm", "font_size": 13, "bootstrap": 10}


def histogram_table(rng: np.random.Generator, bins: int = 20) -> pd.DataFrame:
    counts, edges = np.histogram(rng.beta(2, 3, 500), bins=bins, range=(0, 1))
    return pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:], "count": counts})


def bars(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0]


def test_theme_sets_font_and_palette_only_inside_the_block():
    before = plt.rcParams["font.size"], plt.rcParams["axes.prop_cycle"]
    with theme.figure_theme(13):
        assert plt.rcParams["font.size"] == pytest.approx(13)
        colours = [c["color"] for c in plt.rcParams["axes.prop_cycle"]]
        assert [to_rgb(c) for c in colours] == [to_rgb(c) for c in sns.color_palette("colorblind")]
    assert (plt.rcParams["font.size"], plt.rcParams["axes.prop_cycle"]) == before


def test_the_brain_histogram_uses_the_style_font_size(rng):
    fig = figures.plot_brain_histogram(histogram_table(rng), {"mean": 0.4, "mode": 0.3}, STYLE)
    assert fig.axes[0].xaxis.label.get_fontsize() == pytest.approx(13)
    plt.close(fig)


def test_brain_histogram_bars_are_the_count_column(rng):
    hist = histogram_table(rng)
    fig = figures.plot_brain_histogram(hist, {"mean": 0.41, "mode": 0.33}, STYLE, "t")
    ax = fig.axes[0]
    drawn = sorted(bars(ax), key=lambda p: p.get_x())
    np.testing.assert_allclose([p.get_height() for p in drawn], hist["count"])
    np.testing.assert_allclose([p.get_x() for p in drawn], hist["bin_left"], atol=1e-12)
    np.testing.assert_allclose([p.get_width() for p in drawn], np.diff(np.linspace(0, 1, 21)))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mean 0.410", "mode 0.330"]
    plt.close(fig)


def test_histogram_bins_must_be_contiguous(rng):
    hist = histogram_table(rng).drop(index=3).reset_index(drop=True)
    with pytest.raises(ValueError, match="not contiguous"):
        figures.plot_brain_histogram(hist, {"mean": 0.4, "mode": 0.3}, STYLE)


def test_lesion_histogram_bars_are_the_density_columns(rng):
    base = histogram_table(rng, bins=10)
    width = base["bin_right"] - base["bin_left"]
    hist = base[["bin_left", "bin_right"]].assign(
        normal_density=base["count"] / (base["count"].sum() * width),
        anomalous_density=base["count"][::-1].to_numpy() / (base["count"].sum() * width),
    )
    fig = figures.lesion_histograms({"brats": hist, "wmh": hist}, STYLE)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        heights = {}
        for p in bars(ax):
            heights.setdefault(to_rgb(p.get_facecolor()), []).append((p.get_x(), p.get_height()))
        assert len(heights) == 2
        drawn = [np.array([h for _, h in sorted(v)]) for v in heights.values()]
        expected = [hist["normal_density"].to_numpy(), hist["anomalous_density"].to_numpy()]
        assert any(np.allclose(drawn[0], e) for e in expected)
        assert any(np.allclose(drawn[1], e) for e in expected)
        assert not np.allclose(drawn[0], drawn[1])
    plt.close(fig)


def test_heatmap_cells_are_the_grid_with_intensity_upwards_and_the_sigma_mark_explained():
    sigmas, intensities = np.linspace(0, 2, 5), np.linspace(0, 1, 3)
    values = np.arange(15, dtype=float).reshape(3, 5) / 15
    grid = pd.DataFrame(values, index=intensities, columns=sigmas)
    fig = figures.intensity_sigma_heatmap(grid, {**STYLE, "cmap": "viridis"}, "title")
    ax = fig.axes[0]
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(3, 5), values[::-1])
    assert mesh.get_clim() == (0, 1) and mesh.get_cmap().name == "viridis"
    (mark,) = [line for line in ax.get_lines() if line.get_label() == figures.SIGMA_MARK_LABEL]
    # cell centres 0.5, 1.5, ... hold sigma 0, 0.5, ...: sigma 0.25 lies halfway
    assert mark.get_xdata()[0] == pytest.approx(1.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [figures.SIGMA_MARK_LABEL]
    assert "px" in ax.get_xlabel()
    # tick labels are data values at their cells: intensity 1 (top row) at y = 0.5
    y_ticks = dict(zip([t.get_text() for t in ax.get_yticklabels()], ax.get_yticks(), strict=True))
    assert y_ticks["1"] == pytest.approx(0.5) and y_ticks["0"] == pytest.approx(2.5)
    plt.close(fig)


def curves_table(models: list[str], x: np.ndarray) -> pd.DataFrame:
    """Identical curves for every model: the worst case for visibility."""
    ap = np.clip(x**2, 0, 1)
    return pd.concat(
        [
            pd.DataFrame(
                {"label": m, "intensity": x, "ap": ap, "ap_low": ap - 0.05, "ap_high": ap + 0.05}
            )
            for m in models
        ],
        ignore_index=True,
    )


def colour_pixels(fig, colour) -> int:
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float) / 255
    return int((np.abs(image - np.array(to_rgb(colour))).max(axis=-1) < 0.06).sum())


@pytest.mark.parametrize("n_points", [6, 100])
def test_coinciding_model_curves_all_stay_visible(n_points):
    models = ["AE latent 128", "AE latent 64", "AE latent 32", "Spatial-AE 1", "VQ-VAE-2"]
    families = dict(zip(models, ["ae", "ae", "ae", "sae", "vq"], strict=True))
    curves = curves_table(models, np.linspace(0, 1, n_points))
    fig = figures.model_curves(curves, None, STYLE, "title", families)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == models
    for name, line in lines.items():
        np.testing.assert_allclose(line.get_ydata(), curves[curves["label"] == name]["ap"])
    # a family shares a line style, each curve has its own marker, the first is drawn on top
    styles = {name: lines[name].get_linestyle() for name in models}
    assert styles[models[0]] == styles[models[1]] == styles[models[2]] != styles[models[3]]
    assert len({lines[m].get_marker() for m in models}) == len(models)
    assert [lines[m].get_zorder() for m in models] == sorted(
        (lines[m].get_zorder() for m in models), reverse=True
    )
    # every curve's colour shows in the plot (legend removed) although the curves coincide
    ax.get_legend().remove()
    palette = sns.color_palette("colorblind")
    for i, name in enumerate(models):
        assert colour_pixels(fig, palette[i]) > 8, name
    # the bands are the table's ap_low / ap_high
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(models)
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(ys.min(), curves["ap_low"].min()) and np.isclose(
        ys.max(), curves["ap_high"].max()
    )
    plt.close(fig)


def test_models_matching_the_same_blur_share_one_matched_curve():
    curves = curves_table(["A", "B", "C"], np.linspace(0, 1, 6))
    matched = pd.concat(
        [
            pd.DataFrame(
                {"matched_to": m, "sigma": s, "intensity": np.linspace(0, 1, 6), "ap": s / 5}
            )
            for m, s in (("A", 2.0), ("B", 2.0), ("C", 0.5))
        ],
        ignore_index=True,
    )
    fig = figures.model_curves(curves, matched, STYLE, "title")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[3:] == [
        "Gaussian blur σ = 2.00 px (matches A, B)",
        "Gaussian blur σ = 0.50 px (matches C)",
    ]
    plt.close(fig)


def test_texture_curves_explain_the_red_dashed_line():
    curves = curves_table(["Sink deformation", "Pixel shuffle"], np.linspace(0, 2, 5)).rename(
        columns={"intensity": "sigma"}
    )
    matched = pd.DataFrame({"intensity": 0.4, "sigma": np.linspace(0, 2, 5), "ap": 0.5})
    fig = figures.texture_curves(curves, matched, STYLE)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Sink deformation", "Pixel shuffle", "Exp. 1: intensity 0.40"] + [
        figures.SIGMA_MARK_LABEL
    ]
    (mark,) = [line for line in ax.get_lines() if line.get_label() == figures.SIGMA_MARK_LABEL]
    assert to_rgb(mark.get_color()) == to_rgb("tab:red") and mark.get_xdata()[0] == 0.25
    assert "px" in ax.get_xlabel()
    plt.close(fig)


def test_image_grid_residual_column_has_one_scale_and_a_colour_bar(rng):
    rows = [
        (f"row {r}", [("input", rng.random((8, 8))), ("map", rng.random((8, 8)) * (r + 1))])
        for r in range(3)
    ]
    fig = figures.image_grid(rows, STYLE, residual_columns=(1,), residual_label="|x̃ − x|")
    panels, bars_ = fig.axes[:6], fig.axes[6:]
    assert len(bars_) == 1 and bars_[0].get_ylabel() == "|x̃ − x|"
    top = max(float(images[1][1].max()) for _, images in rows)
    for r in range(3):
        assert panels[2 * r].get_images()[0].get_clim() == (0, 1)
        assert panels[2 * r + 1].get_images()[0].get_clim() == (0, top)
    assert bars_[0].get_ylim() == pytest.approx((0, top))
    plt.close(fig)


def test_error_vs_ap_draws_one_point_per_model():
    points = pd.DataFrame(
        {
            "model": ["a", "b"],
            "label": ["A", "B"],
            "reconstruction_error": [0.1, 0.2],
            "ap": [0.9, 0.3],
        }
    )
    fig = figures.error_vs_ap(points, STYLE)
    ax = fig.axes[0]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    np.testing.assert_allclose(offsets, points[["reconstruction_error", "ap"]].to_numpy())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B"]
    plt.close(fig)


def test_readme_lists_the_columns_of_every_figure_csv():
    columns = readme_csv_columns()
    assert set(columns) == {*FIGURES, "fig7", "fig8"}
    assert all(len(c) == len(set(c)) > 0 for c in columns.values())
