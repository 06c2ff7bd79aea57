"""Exp 4's tables: set metrics of all models, and detection rate per healthy-histogram percentile
bin with the Exp 1 prediction (a disk of the lesion's intensity at the model's matched sigma)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["by_intensity_table", "exp1_prediction", "matched_sigmas"]


def matched_sigmas(fig3a: pd.DataFrame) -> dict[str, float]:
    """model -> its matched sigma, from Fig. 3(a)'s CSV (rows with curve = model)."""
    rows = fig3a[fig3a["curve"] == "model"]
    return {str(m): float(s) for m, s in rows.groupby("model")["matched_sigma"].first().items()}


def exp1_prediction(intensity: np.ndarray, grid: pd.DataFrame, sigma: float) -> np.ndarray:
    """Exp 1 mean AP (over images) of a disk of each ``intensity`` at the grid's sigma nearest
    ``sigma``, linearly interpolated between the grid's intensities. grid: intensity, sigma, ap."""
    sigmas = np.sort(grid["sigma"].unique())
    nearest = sigmas[int(np.argmin(np.abs(sigmas - sigma)))]
    curve = grid[np.isclose(grid["sigma"], nearest)].groupby("intensity")["ap"].mean()
    return np.interp(np.asarray(intensity, float), curve.index.to_numpy(float), curve.to_numpy())


def by_intensity_table(
    lesions: pd.DataFrame,
    grids: Mapping[str, pd.DataFrame],
    sigmas: Mapping[str, float],
    *,
    bins: int,
) -> pd.DataFrame:
    """Per model, scorer and percentile bin (``bins`` equal bins over 0-100): n_lesions,
    n_detected, detection_rate, mean lesion AP, and predicted_ap (the mean Exp 1 prediction of
    the bin's lesions; NaN without the scorer's Exp 1 grid or the model's matched sigma).

    lesions: the lesion tables of all models (columns model, score, percentile, mean_intensity,
    detected, ap); grids: scorer -> its Exp 1 grid; sigmas: model -> matched sigma.
    """
    edges = np.linspace(0.0, 100.0, bins + 1)
    frame = lesions.copy()
    frame["bin"] = np.clip(np.searchsorted(edges, frame["percentile"], "right") - 1, 0, bins - 1)
    frame["predicted_ap"] = np.nan
    for (model, score), idx in frame.groupby(["model", "score"]).groups.items():
        if score in grids and model in sigmas:
            frame.loc[idx, "predicted_ap"] = exp1_prediction(
                frame.loc[idx, "mean_intensity"].to_numpy(), grids[score], sigmas[model]
            )
    out = (
        frame.groupby(["model", "score", "bin"])
        .agg(
            n_lesions=("detected", "size"),
            n_detected=("detected", "sum"),
            lesion_ap=("ap", "mean"),
            predicted_ap=("predicted_ap", "mean"),
        )
        .reset_index()
    )
    out["n_detected"] = out["n_detected"].astype(int)
    out["detection_rate"] = out["n_detected"] / out["n_lesions"]
    out.insert(3, "bin_left", edges[out["bin"]])
    out.insert(4, "bin_right", edges[out["bin"] + 1])
    return out.drop(columns="bin")
