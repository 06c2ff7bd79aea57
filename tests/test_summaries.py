"""Per-image tables -> the plotted numbers: means, bands and the paper's L1 matching."""

import numpy as np
import pandas as pd
import pytest

from residual_pitfalls.reporting.summaries import (
    best_match,
    bootstrap_band,
    error_vs_ap_table,
    heatmap_table,
    model_curve_table,
    texture_table,
)

INTENSITIES = np.linspace(0, 1, 5)
SIGMAS = np.linspace(0, 5, 4)


def grid_frame(n_images: int = 3) -> pd.DataFrame:
    """A fake Exp 1 result whose mean AP falls with sigma and dips at intensity 0.5."""
    rows = []
    for image in range(n_images):
        for sigma in SIGMAS:
            for intensity in INTENSITIES:
                ap = 1 - sigma / 6 * (1 - abs(intensity - 0.5)) + 0.01 * image
                rows.append((image, sigma, intensity, ap))
    return pd.DataFrame(rows, columns=["image", "sigma", "intensity", "ap"])


def model_frame(model: str, sigma: float, n_images: int = 3) -> pd.DataFrame:
    """A model whose per-image curves are exactly the Exp 1 column at `sigma`."""
    grid = grid_frame(n_images)
    part = grid[np.isclose(grid["sigma"], sigma)]
    return part.drop(columns="sigma").assign(model=model, residual_error=0.1)


def test_heatmap_table_is_the_mean_over_images():
    grid, long = heatmap_table(grid_frame())
    assert grid.shape == (len(INTENSITIES), len(SIGMAS))
    assert list(long.columns) == ["intensity", "sigma", "ap"]
    expected = grid_frame().groupby(["intensity", "sigma"])["ap"].mean()
    np.testing.assert_allclose(long.set_index(["intensity", "sigma"])["ap"], expected)


@pytest.mark.parametrize(("index", "censored"), [(0, True), (1, False), (2, False), (3, True)])
def test_model_curve_matches_its_blur_column(index, censored):
    sigma = SIGMAS[index]
    curves, matched = model_curve_table(
        [model_frame("m", sigma)], {"m": "Model"}, grid_frame(), ["m"], n_resamples=50
    )
    assert curves["matched_sigma"].iloc[0] == pytest.approx(sigma)
    assert bool(curves["censored"].iloc[0]) is censored
    np.testing.assert_allclose(matched["ap"], curves["ap"])
    assert set(matched["matched_to"]) == {"Model"}
    assert (curves["ap_low"] <= curves["ap"] + 1e-12).all()
    assert (curves["ap"] <= curves["ap_high"] + 1e-12).all()


def test_model_curve_without_grid_has_no_matching():
    curves, matched = model_curve_table(
        [model_frame("m", SIGMAS[1])], {}, None, ["m"], n_resamples=10
    )
    assert "matched_sigma" not in curves and matched.empty


def test_texture_table_matches_the_closest_intensity_row():
    grid = grid_frame()
    row = grid[np.isclose(grid["intensity"], 0.25)]
    shuffle = row.drop(columns="intensity").assign(anomaly="pixel_shuffle")
    sink = shuffle.assign(anomaly="sink", ap=shuffle["ap"] * 0.5)
    curves, matched = texture_table([sink, shuffle], grid, n_resamples=20)
    assert set(curves["anomaly"]) == {"sink", "pixel_shuffle"}
    assert matched["intensity"].iloc[0] == pytest.approx(0.25)


def test_error_vs_ap_table_averages_per_model():
    healthy = model_frame("m", SIGMAS[1])
    anomalous = model_frame("m", SIGMAS[2])
    points = error_vs_ap_table([healthy], [anomalous], {"m": "Model"})
    assert points.loc[0, "reconstruction_error"] == pytest.approx(0.1)
    assert points.loc[0, "ap"] == pytest.approx(anomalous["ap"].mean())


def test_best_match_prefers_smaller_index_on_ties():
    candidates = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert best_match(np.array([0.0, 1.0]), candidates) == 0
    assert best_match(np.array([0.9, 0.1]), candidates) == 1


def test_bootstrap_band_brackets_the_mean_and_is_reproducible():
    values = np.random.default_rng(0).random((30, 4))
    low, high = bootstrap_band(values, 200, np.random.default_rng(1))
    mean = values.mean(axis=0)
    assert np.all(low <= mean) and np.all(mean <= high) and np.all(high - low > 0)
    low2, high2 = bootstrap_band(values, 200, np.random.default_rng(1))
    np.testing.assert_array_equal(low, low2)
    np.testing.assert_array_equal(high, high2)
