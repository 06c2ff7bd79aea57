"""One look per model and scorer in every figure; the redesigned zoo Exp 3 and BatchNorm figures."""

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd

from residual_pitfalls.lesions.figures import lesion_detection
from residual_pitfalls.reporting import figures
from residual_pitfalls.reporting.batchnorm_figure import batchnorm_facets
from residual_pitfalls.reporting.styles import model_style, scorer_palette
from residual_pitfalls.reporting.zoo_figures import best_alternatives, exp3_lines, texture_lines

STYLE = {"dpi": 72, "cmap": "coolwarm", "font_size": 8, "bootstrap": 10}
DEFAULTS = ["ae128", "ae64", "ae32", "sae1", "sae2", "vqvae"]
BUILTIN_SCORES = [
    "residual", "positive_residual", "ssim", "msgms", "residual_ssim", "intensity",
    "pixel_zscore", "residual_zscore",
]  # fmt: skip


def curves(models, n=5):
    rows = []
    for i, model in enumerate(models):
        x = np.linspace(0, 1, n)
        ap = np.clip(x * (i + 1) / len(models), 0, 1)
        rows.append(pd.DataFrame({"model": model, "label": model.upper(), "intensity": x, "ap": ap,
                                  "ap_low": ap - 0.05, "ap_high": ap + 0.05}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def line_colours(fig):
    return {
        line.get_label(): mcolors.to_hex(line.get_color())
        for ax in fig.axes
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


def test_a_models_style_does_not_depend_on_the_other_models():
    defaults = {m: model_style(m) for m in DEFAULTS}
    assert len(set(defaults.values())) == 6 and len({c for c, _ in defaults.values()}) == 6
    alone = line_colours(figures.model_curves(curves(["ae128"]), None, STYLE, "t"))
    crowd = line_colours(
        figures.model_curves(curves(["mine", "dae", *DEFAULTS[::-1]]), None, STYLE, "t")
    )
    assert alone["AE128"] == crowd["AE128"] == defaults["ae128"][0]
    assert crowd["MINE"] == model_style("mine")[0]  # a user's model: from its key, every time


def test_the_eight_builtin_scorers_get_eight_distinct_colours():
    palette, dashes = scorer_palette(BUILTIN_SCORES)
    assert len(set(palette.values())) == 8 and palette["residual"] == "#000000"
    fig = texture_lines(
        pd.DataFrame(
            {
                "score": np.repeat(BUILTIN_SCORES, 3),
                "anomaly": "sink",
                "sigma": np.tile([0, 1, 2], 8),
                "ap": 0.5,
            }
        ),  # fmt: skip
        STYLE,
    )
    drawn = {mcolors.to_hex(line.get_color()) for line in fig.axes[0].get_lines()}
    assert {c.lower() for c in palette.values()} <= drawn


def exp3_table():
    rows = []
    for model in ("ae128", "vqvae"):
        for mode in ("healthy", "anomalous"):
            for k, score in enumerate(BUILTIN_SCORES):
                good = {"ae128": "residual_ssim", "vqvae": "pixel_zscore"}[model]
                level = 0.9 if score == good else 0.1 * (k % 4)
                rows += [(model, mode, score, x, level) for x in (0.0, 0.5, 1.0)]
    return pd.DataFrame(rows, columns=["model", "mode", "score", "intensity", "ap"])


def test_exp3_shows_the_residual_and_each_panels_best_alternative():
    table = exp3_table()
    best = best_alternatives(table)
    assert dict(zip(best["model"], best["score"], strict=True)) == {
        "ae128": "residual_ssim",
        "vqvae": "pixel_zscore",
    }
    fig = exp3_lines(table, STYLE, {"ae128": "AE latent 128", "vqvae": "VQ-VAE-2"})
    assert len(fig.axes) == 4
    palette, _ = scorer_palette(BUILTIN_SCORES)
    for ax in fig.axes:
        strong = [
            mcolors.to_hex(line.get_color()) for line in ax.get_lines() if line.get_linewidth() > 1
        ]
        assert len(strong) == 2 and palette["residual"] in strong
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["residual", "residual_ssim", "pixel_zscore", "the other scorers"]


def test_batchnorm_figure_has_one_panel_per_model_with_both_modes_and_their_blurs():
    both = pd.concat(
        [
            curves(DEFAULTS).assign(batchnorm=m, matched_sigma=s, censored=s >= 5)
            for m, s in (("eval", 3.0), ("per_image", 5.0))
        ],  # fmt: skip
        ignore_index=True,
    )
    matched = both.rename(columns={"label": "matched_to"})[
        ["matched_to", "batchnorm", "intensity", "ap"]
    ]
    fig = batchnorm_facets(both, matched, STYLE)
    assert len(fig.axes) == 6
    ax = fig.axes[0]
    assert ax.get_title() == "AE128\nσ 3.00 → ≥ 5.00"
    assert len(ax.get_lines()) == 4  # eval, its blur, per-image, its blur
    assert mcolors.to_hex(ax.get_lines()[0].get_color()) == model_style("ae128")[0]


def test_exp4_detection_figure_draws_each_model_in_its_own_style():
    """Exp 4's detection rate per model used matplotlib's tab10 in table order: a model changed
    colour with the set of models. Now its colour and marker are those of Figs. 3-4."""
    rows = [
        {"model": m, "score": s, "bin_left": b, "bin_right": b + 20,
         "detection_rate": (b + i) / 100, "predicted_ap": (b + 2 * i) / 100}
        for i, m in enumerate(["vqvae", "mine", "ae128"])
        for s in ("residual", "ssim")
        for b in range(0, 100, 20)
    ]  # fmt: skip
    table = pd.DataFrame(rows)
    fig = lesion_detection(table, STYLE, "t")
    for ax, score in zip(fig.axes, ("residual", "ssim"), strict=False):
        for model in ("vqvae", "mine", "ae128"):
            colour, marker = model_style(model)
            part = table[(table["model"] == model) & (table["score"] == score)]
            solid, dashed = [
                line for line in ax.get_lines() if mcolors.to_hex(line.get_color()) == colour
            ]
            assert solid.get_label() == model and solid.get_marker() == marker
            np.testing.assert_array_equal(solid.get_ydata(), part["detection_rate"])
            np.testing.assert_array_equal(dashed.get_ydata(), part["predicted_ap"])
            assert dashed.get_linestyle() == "--"
    alone = lesion_detection(table[table["model"] == "ae128"], STYLE, "t")
    assert {mcolors.to_hex(line.get_color()) for line in alone.axes[0].get_lines()} == {
        model_style("ae128")[0]
    }
