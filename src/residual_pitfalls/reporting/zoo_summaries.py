"""The scorer zoo's per-image tables -> exactly the numbers its figures and summary show.

Every input frame is tidy with a ``score`` column (the scorer's name in config ``scores``); every
output is a mean over images, so a scorer's rows never depend on the other scorers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from residual_pitfalls.reporting.summaries import heatmap_table

BLIND_AP = 0.5  # a scorer is "blind" at a cell where its mean AP is below this (issue 9)
SUMMARY_SIGMAS = (1.0, 2.0)  # min_ap_sigma1, min_ap_sigma2: the grid sigma nearest each


def exp1_means(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Per-scorer Exp 1 rows (score, image, sigma, intensity, ap) -> mean AP over images:
    columns score, intensity, sigma, ap. Each scorer's rows are `heatmap_table`'s, so the
    ``residual`` rows equal Fig. 1(a)'s CSV exactly."""
    tables = []
    for frame in frames:
        _, long = heatmap_table(frame)
        long.insert(0, "score", _one_score(frame))
        tables.append(long)
    return pd.concat(tables, ignore_index=True)


def _one_score(frame: pd.DataFrame) -> str:
    names = frame["score"].unique()
    if len(names) != 1:
        raise ValueError(f"expected the rows of one scorer, got scores {sorted(names)}")
    return str(names[0])


def blindspot_table(exp1: pd.DataFrame, blind_ap: float = BLIND_AP) -> pd.DataFrame:
    """Per scorer and sigma, the intensities whose mean AP is below `blind_ap`.

    exp1: columns score, intensity, sigma, ap (``exp1_means``). Returns columns score, sigma,
    blind_low, blind_high (the smallest and largest blind intensity; NaN when none is blind),
    width (blind_high - blind_low: the hull, 0 for one blind intensity or none) and min_ap (the
    lowest mean AP over intensities at that sigma).
    """
    rows = []
    for (score, sigma), cells in exp1.groupby(["score", "sigma"], sort=False):
        blind = cells.loc[cells["ap"] < blind_ap, "intensity"]
        low = float(blind.min()) if len(blind) else np.nan
        high = float(blind.max()) if len(blind) else np.nan
        rows.append(
            {
                "score": score,
                "sigma": float(sigma),
                "blind_low": low,
                "blind_high": high,
                "width": high - low if len(blind) else 0.0,
                "min_ap": float(cells["ap"].min()),
            }
        )
    return pd.DataFrame(rows)


def texture_means(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Per-scorer Exp 2 rows (score, anomaly, image, sigma, ap) -> columns score, anomaly, sigma,
    ap (mean over images), in input order."""
    frame = pd.concat(list(frames), ignore_index=True)
    return (
        frame.groupby(["score", "anomaly", "sigma"], sort=False)["ap"]
        .mean()
        .reset_index()[["score", "anomaly", "sigma", "ap"]]
    )


def exp3_table(per_image: Iterable[pd.DataFrame], pooled: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Exp 3.1/3.2 of every (model, mode): columns model, mode, score, intensity, ap (mean
    per-image AP) and one column per metric of `pooled` (pooled_ap, auroc, best_dice: each computed
    over all test images at once, see ``experiments.zoo.METRICS``).

    per_image: frames with model, mode, score, image, intensity, ap; pooled: frames with model,
    mode, score, intensity and the metric columns (possibly none).
    """
    keys = ["model", "mode", "score", "intensity"]
    means = pd.concat(list(per_image), ignore_index=True).groupby(keys, sort=False)["ap"].mean()
    extra = pd.concat(list(pooled), ignore_index=True)
    return means.reset_index().merge(extra, on=keys, how="left", validate="one_to_one")


def _nearest(values: np.ndarray, target: float) -> float:
    return float(values[np.argmin(np.abs(values - target))])


def summary_table(
    exp1: pd.DataFrame,
    exp3: pd.DataFrame | None,
    models: Sequence[str],
    metrics: Sequence[str],
    blind_ap: float = BLIND_AP,
) -> pd.DataFrame:
    """One row per scorer (in exp1's order).

    Columns: score; blind_spot_area (share of the Exp 1 (intensity, sigma) cells with mean AP <
    `blind_ap`); min_ap_sigma1 / min_ap_sigma2 (the lowest mean AP over intensities at the grid
    sigma nearest 1 / 2); then per model of `models` the Exp 3.2 mean over intensities of the mean
    per-image AP (``exp3_ap_<model>``) and of each pooled metric (``exp3_<metric>_<model>``).
    exp3: ``exp3_table``'s output, or None when no model is configured.
    """
    sigmas = np.sort(exp1["sigma"].unique())
    near = [_nearest(sigmas, s) for s in SUMMARY_SIGMAS]
    rows = []
    for score, cells in exp1.groupby("score", sort=False):
        row = {
            "score": score,
            "blind_spot_area": float((cells["ap"] < blind_ap).mean()),
            "min_ap_sigma1": float(cells.loc[cells["sigma"] == near[0], "ap"].min()),
            "min_ap_sigma2": float(cells.loc[cells["sigma"] == near[1], "ap"].min()),
        }
        if exp3 is not None:
            mine = exp3[(exp3["score"] == score) & (exp3["mode"] == "anomalous")]
            for model in models:
                curve = mine[mine["model"] == model]
                for metric in ("ap", *metrics):
                    row[f"exp3_{metric}_{model}"] = (
                        float(curve[metric].mean()) if len(curve) else np.nan
                    )
        rows.append(row)
    return pd.DataFrame(rows)
