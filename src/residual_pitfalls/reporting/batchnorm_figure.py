"""Fig. 3(a) with the original code's BatchNorm: one small panel per model (seaborn facets), its
Exp. 3.1 curve with BatchNorm on running statistics (eval) and on each image's own statistics
(per-image), each with its matched blur curve."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from residual_pitfalls.reporting.styles import model_style  # noqa: E402
from residual_pitfalls.reporting.theme import themed  # noqa: E402

MODES = {"eval": ("eval BatchNorm", "-"), "per_image": ("per-image BatchNorm", "--")}
BLUR = "0.45"  # the matched blur curves: grey, in the line style of their mode


def _sigma_text(curves: pd.DataFrame, mode: str) -> str:
    rows = curves[curves["batchnorm"] == mode]
    if rows.empty or pd.isna(rows["matched_sigma"].iloc[0]):
        return "n/a"
    edge = "≥ " if bool(rows["censored"].iloc[0]) else ""
    return f"{edge}{rows['matched_sigma'].iloc[0]:.2f}"


def _panel(ax: plt.Axes, curves: pd.DataFrame, matched: pd.DataFrame, model: str) -> None:
    colour, _ = model_style(model)
    for mode, (_, dashes) in MODES.items():
        part = curves[curves["batchnorm"] == mode].sort_values("intensity")
        ax.fill_between(
            part["intensity"], part["ap_low"], part["ap_high"], color=colour, alpha=0.12, lw=0
        )
        ax.plot(part["intensity"], part["ap"], color=colour, linestyle=dashes, lw=1.6)
        blur = matched[matched["batchnorm"] == mode].sort_values("intensity")
        ax.plot(blur["intensity"], blur["ap"], color=BLUR, linestyle=dashes, lw=1)
    label = curves["label"].iloc[0]
    ax.set_title(
        f"{label}\nσ {_sigma_text(curves, 'eval')} → {_sigma_text(curves, 'per_image')}",
        fontsize="small",
    )


@themed
def batchnorm_facets(curves: pd.DataFrame, matched: pd.DataFrame, style: Mapping) -> plt.Figure:
    """curves: model, label, batchnorm, intensity, ap, ap_low, ap_high, matched_sigma, censored;
    matched: matched_to (label), batchnorm, intensity, ap: each model's matched blur per mode."""
    models = list(dict.fromkeys(curves["model"]))
    g = sns.FacetGrid(
        pd.DataFrame({"model": models}),
        col="model",
        col_wrap=min(3, len(models)),
        height=2.2,
        aspect=1.2,
        ylim=(0, 1.02),
        xlim=(0, 1),
    )
    for model, ax in g.axes_dict.items():
        mine = curves[curves["model"] == model]
        _panel(ax, mine, matched[matched["matched_to"] == mine["label"].iloc[0]], model)
    g.set_axis_labels("anomaly intensity", "AP")
    handles = [Line2D([], [], color="0.15", linestyle=d, label=t) for t, d in MODES.values()]
    handles += [
        Line2D([], [], color=BLUR, linestyle=d, lw=1, label=f"its matched blur ({t.split()[0]})")
        for t, d in MODES.values()
    ]
    g.figure.legend(
        handles=handles, loc="upper center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0)
    )
    # room for the two-line panel titles
    g.figure.subplots_adjust(top=0.84 if len(models) > 3 else 0.74, hspace=0.6)
    g.figure.suptitle(
        "Exp. 3.1: BatchNorm on running (eval) vs per-image statistics; σ: matched blur", y=0.99
    )
    return g.figure
