"""results/fig3_modern: its table (matched sigma, mean Exp 3.2 AP) and its figure."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from test_summaries import SIGMAS, grid_frame, model_frame

from residual_pitfalls.reporting.modern_figures import modern_curve_table, modern_curves
from residual_pitfalls.reporting.theme import save_figure

STYLE = {"dpi": 40, "font_size": 8}


def test_modern_table_matches_sigma_and_averages_exp32(tmp_path):
    healthy = [model_frame("dae", SIGMAS[1]), model_frame("ae128", SIGMAS[2])]
    # Exp 3.2: the DAE copies the anomaly (AP 0.1 everywhere), the AE misses it half the time
    anomalous = [
        model_frame("dae", SIGMAS[1]).assign(ap=0.1),
        model_frame("ae128", SIGMAS[2]).assign(ap=lambda f: np.where(f["image"] == 0, 1.0, 0.25)),
    ]
    labels = {"dae": "DAE", "ae128": "AE latent 128"}
    table = modern_curve_table(healthy, anomalous, labels, grid_frame(), n_resamples=20)
    summary = table.groupby("model")[["matched_sigma", "censored", "mean_ap_exp32"]].first()
    assert summary.loc["dae", "matched_sigma"] == pytest.approx(SIGMAS[1])
    assert summary.loc["ae128", "matched_sigma"] == pytest.approx(SIGMAS[2])
    assert summary.loc["dae", "mean_ap_exp32"] == pytest.approx(0.1)
    assert summary.loc["ae128", "mean_ap_exp32"] == pytest.approx(0.5)  # (1 + 0.25 + 0.25) / 3
    assert set(table["mode"]) == {"healthy", "anomalous"}
    assert len(table) == 2 * 2 * len(grid_frame()["intensity"].unique())
    save_figure(modern_curves(table, STYLE, {"DAE": "dae"}), table, tmp_path / "f.pdf", dpi=40)
    assert (tmp_path / "f.png").stat().st_size > 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "f.csv"), table, check_dtype=False)


def test_modern_table_names_a_model_without_exp32():
    with pytest.raises(ValueError, match=r"no Exp 3.2 curve for model\(s\) \['dae'\]"):
        modern_curve_table(
            [model_frame("dae", SIGMAS[1])], [model_frame("x", SIGMAS[1])], {}, grid_frame(), 5
        )
