"""Per-image metric tables -> exactly the numbers each figure plots (means, bootstrap bands, matches)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def mean_grid(frame: pd.DataFrame, rows: str, cols: str) -> pd.DataFrame:
    """Mean AP over images as a (rows x cols) table, e.g. intensity x sigma."""
    return frame.pivot_table(index=rows, columns=cols, values="ap", aggfunc="mean")


def best_match(curve: np.ndarray, candidates: np.ndarray) -> int:
    """Index of the candidate curve (rows of `candidates`, (C, K)) with the least L1 distance to
    `curve` (K,); ties go to the smaller index, as the original (SPEC 5.6)."""
    distances = np.abs(np.asarray(candidates) - np.asarray(curve)[None, :]).sum(axis=1)
    return int(np.argmin(distances))


def bootstrap_band(
    per_image: np.ndarray, n_resamples: int, rng: np.random.Generator, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap band of the mean over images.

    per_image: (N, K) values; returns (lower (K,), upper (K,)). n_resamples == 0 gives the mean twice.
    """
    per_image = np.asarray(per_image, dtype=np.float64)
    mean = per_image.mean(axis=0)
    if n_resamples == 0 or len(per_image) < 2:
        return mean, mean
    n = len(per_image)
    means = np.empty((n_resamples, per_image.shape[1]))
    for b in range(n_resamples):
        means[b] = per_image[rng.integers(0, n, n)].mean(axis=0)
    alpha = (1 - level) / 2
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1 - alpha, axis=0)


def heatmap_table(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exp 1 per-image rows -> (intensity x sigma grid of mean AP, long table intensity,sigma,ap)."""
    grid = mean_grid(frame, "intensity", "sigma")
    long = grid.stack().rename("ap").reset_index()[["intensity", "sigma", "ap"]]
    return grid, long


def _curve_with_band(
    frame: pd.DataFrame, x: str, n_resamples: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Mean AP over images along x, with a percentile bootstrap band over images."""
    per_image = frame.pivot_table(index="image", columns=x, values="ap")
    low, high = bootstrap_band(per_image.to_numpy(), n_resamples, rng)
    return pd.DataFrame(
        {
            x: per_image.columns.to_numpy(dtype=float),
            "ap": per_image.mean(axis=0).to_numpy(),
            "ap_low": low,
            "ap_high": high,
        }
    )


def _labelled_curve(
    frame: pd.DataFrame,
    key: str,
    labels: Mapping[str, str],
    x: str,
    n_resamples: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """:func:`_curve_with_band` of one curve's frame, led by its `key` column (the frame's one
    value, e.g. the model) and its display label (``labels``, else the key itself)."""
    name = str(frame[key].iloc[0])
    curve = _curve_with_band(frame, x, n_resamples, rng)
    curve.insert(0, "label", labels.get(name, name))
    curve.insert(0, key, name)
    return curve


TEXTURE_LABELS = {
    "sink": "Sink deformation",
    "source": "Source deformation",
    "pixel_shuffle": "Pixel shuffle",
}


def texture_table(
    textures: Sequence[pd.DataFrame],
    grid_frame: pd.DataFrame,
    n_resamples: int,
    seed: int = 0,
    reference: str = "pixel_shuffle",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 2: (curves: anomaly,label,sigma,ap,ap_low,ap_high; the Exp 1 intensity row closest in L1
    to the `reference` curve (pixel shuffle, as the paper): intensity,sigma,ap)."""
    rng = np.random.default_rng(seed)
    curves = pd.concat(
        [
            _labelled_curve(f, "anomaly", TEXTURE_LABELS, "sigma", n_resamples, rng)
            for f in textures
        ],
        ignore_index=True,
    )
    grid = mean_grid(grid_frame, "intensity", "sigma")
    ref = curves[curves["anomaly"] == reference] if reference in set(curves["anomaly"]) else curves
    ref = ref[ref["anomaly"] == ref["anomaly"].iloc[0]]
    if not np.allclose(ref["sigma"].to_numpy(), grid.columns.to_numpy(dtype=float)):
        raise ValueError("Exp 2 and Exp 1 were run on different sigma grids; rerun with one grid")
    row = best_match(ref["ap"].to_numpy(), grid.to_numpy())
    matched = pd.DataFrame(
        {
            "intensity": float(grid.index[row]),
            "sigma": grid.columns.to_numpy(dtype=float),
            "ap": grid.iloc[row].to_numpy(),
        }
    )
    return curves, matched


def model_curve_table(
    frames: Sequence[pd.DataFrame],
    labels: Mapping[str, str],
    grid_frame: pd.DataFrame | None,
    matched_models: Sequence[str],
    n_resamples: int,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 3(a)/(b): (curves: model,label,intensity,ap,ap_low,ap_high[,matched_sigma,censored];
    the matched blur curves of `matched_models`: matched_to,sigma,intensity,ap).

    With an Exp 1 grid (Fig. 3(a)), matched_sigma is the sigma whose Exp 1 AP-vs-intensity column is
    closest in L1 to the model's curve (SPEC 5.6); censored marks a match at the edge of the sigma
    grid (the true match may lie beyond). Without one (Fig. 3(b)) there is no matching.
    """
    rng = np.random.default_rng(seed)
    grid = None if grid_frame is None else mean_grid(grid_frame, "intensity", "sigma")
    curves, matched = [], []
    for frame in frames:
        curve = _labelled_curve(frame, "model", labels, "intensity", n_resamples, rng)
        model = curve["model"].iloc[0]
        curves.append(curve)
        if grid is None:
            continue
        sigma, censored, blur_curve = _match_sigma(curve, grid)
        curve["matched_sigma"] = sigma
        curve["censored"] = censored
        if model in matched_models:
            matched.append(blur_curve.assign(matched_to=labels.get(model, model), sigma=sigma))
    matched_frame = (
        pd.concat(matched, ignore_index=True)[["matched_to", "sigma", "intensity", "ap"]]
        if matched
        else pd.DataFrame(columns=["matched_to", "sigma", "intensity", "ap"])
    )
    return pd.concat(curves, ignore_index=True), matched_frame


def model_curve_csv(curves: pd.DataFrame, matched: pd.DataFrame) -> pd.DataFrame:
    """Fig. 3(a)'s CSV: the model curves (curve = model) and their matched blur curves
    (curve = matched_blur, their sigma as matched_sigma), as `model_curve_table` returns them."""
    return pd.concat(
        [
            curves.assign(curve="model"),
            matched.rename(columns={"sigma": "matched_sigma"}).assign(curve="matched_blur"),
        ],
        ignore_index=True,
    )


def _match_sigma(curve: pd.DataFrame, grid: pd.DataFrame) -> tuple[float, bool, pd.DataFrame]:
    """(matched sigma, whether it sits at the grid edge, the matched Exp 1 curve: intensity,ap);
    grid: mean AP, rows intensity, columns sigma."""
    if not np.allclose(curve["intensity"].to_numpy(), grid.index.to_numpy(dtype=float)):
        raise ValueError("Exp 3 and Exp 1 were run on different intensity grids")
    sigmas = grid.columns.to_numpy(dtype=float)
    col = best_match(curve["ap"].to_numpy(), grid.to_numpy().T)
    blur_curve = pd.DataFrame(
        {"intensity": grid.index.to_numpy(dtype=float), "ap": grid.iloc[:, col].to_numpy()}
    )
    return float(sigmas[col]), col in (0, len(sigmas) - 1), blur_curve


def error_vs_ap_table(
    healthy: Sequence[pd.DataFrame], anomalous: Sequence[pd.DataFrame], labels: Mapping[str, str]
) -> pd.DataFrame:
    """Fig. 4(b): per model, the mean reconstruction error of the healthy test images (Exp 3.1) and
    the mean AP of Exp 3.2 over images and intensities: columns model,label,reconstruction_error,ap."""
    rows = []
    for h, a in zip(healthy, anomalous, strict=True):
        model = str(h["model"].iloc[0])
        rows.append(
            {
                "model": model,
                "label": labels.get(model, model),
                # residual_error is constant across intensities in 3.1: one value per image
                "reconstruction_error": float(h.groupby("image")["residual_error"].first().mean()),
                "ap": float(a["ap"].mean()),
            }
        )
    return pd.DataFrame(rows)


def anomaly_example_rows(
    image: np.ndarray,
    centre: tuple[int, int],
    *,
    radius: float,
    intensity: float,
    sigma: float,
    rng: np.random.Generator,
) -> tuple[list, pd.DataFrame]:
    """Fig. 5: per anomaly type, (anomalous image, blurred healthy image, residual map) of one slice,
    and the table of each example's AP and mean residual inside / outside the anomaly."""
    from residual_pitfalls.anomalies import make_anomaly
    from residual_pitfalls.metrics.ap import average_precision
    from residual_pitfalls.reconstruction import blur

    blurred = blur(image, sigma)
    rows, table = [], []
    for name, params in (
        ("disk", {"intensity": intensity}),
        ("sink", {}),
        ("source", {}),
        ("pixel_shuffle", {}),
    ):
        anomalous, label = make_anomaly(name, image, centre, radius, rng, **params)
        residual = np.abs(blurred - anomalous)
        title = f"intensity {intensity:.2f}" if name == "disk" else TEXTURE_LABELS[name]
        rows.append(
            (
                title,
                [
                    ("anomalous x", anomalous),
                    (f"blurred x̂ (σ = {sigma:g} px)", blurred),
                    ("residual |x̂ − x|", residual),
                ],
            )
        )
        table.append(
            {
                "anomaly": name,
                "sigma": sigma,
                "ap": average_precision(label, residual),
                "residual_inside": float(residual[label].mean()),
                "residual_outside": float(residual[~label].mean()),
            }
        )
    return rows, pd.DataFrame(table)
