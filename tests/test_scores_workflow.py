"""The scorer zoo as a workflow: Exp 2/3 per-scorer APs, summary tables, start-up checks and the real DAG.

The residual's rows must be the paper figures' numbers (same per-image APs, same means); every
other scorer is checked against "compute the map, call sklearn".
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, TINY, brain_slices, snakemake_command, tiny_models
from sklearn.metrics import average_precision_score, roc_auc_score

from residual_pitfalls.anomalies import anomaly_centres, disk_label
from residual_pitfalls.config import ConfigError
from residual_pitfalls.experiments.paper import (
    disk_anomalous_images,
    model_intensity_curves,
    texture_sigma_curve,
)
from residual_pitfalls.experiments.zoo import (
    METRICS,
    RecordedReconstructions,
    check_zoo,
    load_blurred_stats,
    model_healthy_stats,
    save_blurred_stats,
    scored_model_curves,
    scored_texture_curves,
)
from residual_pitfalls.reconstruction import blur
from residual_pitfalls.reporting.summaries import heatmap_table
from residual_pitfalls.reporting.zoo_summaries import (
    blindspot_table,
    exp1_means,
    exp3_table,
    summary_table,
    texture_means,
)
from residual_pitfalls.scorers.builtin import SCORES
from residual_pitfalls.scorers.entries import zoo_entries
from residual_pitfalls.scorers.registry import resolve_scorers, score_maps
from residual_pitfalls.scorers.stats import ScoreError, blurred_healthy_stats

BYOS = REPO / "examples" / "byos"


def smooth(batch: np.ndarray) -> np.ndarray:
    """A deterministic stand-in for a model: blur every slice with sigma 1.5."""
    return np.stack([blur(img, 1.5) for img in batch])


# --------------------------------------------------------------------------------------------
# Exp 2 and Exp 3 per-scorer APs


def test_texture_curves_residual_equals_exp2_and_others_equal_sklearn():
    images = brain_slices(3, 40, seed=1)
    centres = anomaly_centres(images, seed=0)
    sigmas = np.array([0.0, 1.0, 2.5])
    specs = resolve_scorers({"residual": {}, "ssim": {}, "pixel_zscore": {}})
    stats = blurred_healthy_stats(brain_slices(4, 40, seed=2), sigmas)
    frames = {
        name: scored_texture_curves(
            images,
            centres,
            anomalies=["sink", "pixel_shuffle"],
            radius=5,
            sigmas=sigmas,
            seed=0,
            spec=spec,
            stats=stats,
        )
        for name, spec in specs.items()
    }
    for anomaly in ("sink", "pixel_shuffle"):
        paper = texture_sigma_curve(
            images, centres, anomaly=anomaly, radius=5, sigmas=sigmas, seed=0
        )
        mine = frames["residual"][frames["residual"]["anomaly"] == anomaly]
        np.testing.assert_array_equal(mine["ap"].to_numpy(), paper["ap"].to_numpy())
        np.testing.assert_array_equal(mine["image"].to_numpy(), paper["image"].to_numpy())
    # ssim on image 2, pixel shuffle, sigma 2.5: the map by hand and sklearn
    from residual_pitfalls.anomalies import make_anomaly
    from residual_pitfalls.experiments.paper import texture_rng

    c = (int(centres[2, 0]), int(centres[2, 1]))
    anomalous, label = make_anomaly("pixel_shuffle", images[2], c, 5, texture_rng(0, 2))
    for name in ("ssim", "pixel_zscore"):
        m = score_maps(specs[name], anomalous[None], blur(images[2], 2.5)[None], stats=stats[2.5])
        row = frames[name].query("anomaly == 'pixel_shuffle' and image == 2 and sigma == 2.5")
        assert row["ap"].item() == pytest.approx(
            average_precision_score(label.ravel(), m[0].ravel()), abs=1e-12
        )


@pytest.mark.parametrize("mode", ["healthy", "anomalous"])
def test_model_curves_score_the_recorded_reconstructions(tmp_path, mode):
    """The paper's Exp 3 records its reconstructions; the zoo scores them: the residual's APs are
    the paper's, every other number is sklearn's (or a brute-force Dice) on the maps."""
    images = brain_slices(3, 32, seed=3)
    centres = anomaly_centres(images, seed=0)
    intensities = np.linspace(0, 1, 4)
    specs = resolve_scorers({"residual": {}, "msgms": {}, "residual_zscore": {}})
    val = brain_slices(2, 32, seed=5)
    stats = model_healthy_stats(brain_slices(5, 32, seed=4), val, smooth(val))
    record = RecordedReconstructions(
        smooth, tmp_path / "rec.npy", mode=mode, n_intensities=4, shape=images.shape
    )
    paper, _ = model_intensity_curves(
        images, centres, record, mode=mode, radius=4, intensities=intensities
    )
    record.close()
    recorded = np.load(tmp_path / "rec.npy")
    assert recorded.shape == (1 if mode == "healthy" else 5, *images.shape)
    np.testing.assert_array_equal(recorded[0], smooth(images))  # slot 0: the healthy images
    score = functools.partial(
        scored_model_curves,
        images,
        centres,
        recorded,
        mode=mode,
        radius=4,
        intensities=intensities,
        specs=specs,
        stats=stats,
    )
    per_image, pooled = score(metrics=list(METRICS))
    # the residual runs the paper's engines on the same reconstructions: bit-equal
    mine = per_image[per_image["score"] == "residual"]
    np.testing.assert_array_equal(mine["ap"].to_numpy(), paper["ap"].to_numpy())
    # without pooled metrics, 3.1 needs no full map (the fast path): the same APs
    fast, _ = score()
    np.testing.assert_array_equal(fast["ap"].to_numpy(), per_image["ap"].to_numpy())
    # every metric of one (scorer, intensity) against sklearn / brute force on the maps
    anomalous, _ = disk_anomalous_images(images, centres, 4, intensities[2])
    labels = np.stack(
        [disk_label(img, tuple(c), 4) for img, c in zip(images, centres, strict=True)]
    )
    rec = smooth(images if mode == "healthy" else anomalous)
    maps = score_maps(specs["residual_zscore"], anomalous, rec, stats=stats)
    row = pooled.query("score == 'residual_zscore'").iloc[2]
    assert row["pooled_ap"] == pytest.approx(
        average_precision_score(labels.ravel(), maps.ravel()), abs=1e-12
    )
    auroc = np.mean(
        [roc_auc_score(lab.ravel(), m.ravel()) for lab, m in zip(labels, maps, strict=True)]
    )
    assert row["auroc"] == pytest.approx(auroc, abs=1e-12)
    thresholds = np.linspace(maps.min(), maps.max(), 100, dtype=np.float64)
    dice = [
        2 * (labels & (maps >= t)).sum() / ((maps >= t).sum() + labels.sum()) for t in thresholds
    ]
    assert row["best_dice"] == pytest.approx(max(dice), abs=1e-12)
    for name in specs:  # per-image APs (3.1: the crop fast path) against sklearn on full maps
        maps = score_maps(specs[name], anomalous, rec, stats=stats, brain_masks=images > 0)
        per = per_image.query(f"score == '{name}' and image == 1").iloc[2]
        assert per["ap"] == pytest.approx(
            average_precision_score(labels[1].ravel(), maps[1].ravel()), abs=1e-9
        )


def test_recorder_and_scored_model_curves_reject_a_wrong_number_of_reconstructions(tmp_path):
    images = brain_slices(2, 24, seed=9)
    centres = anomaly_centres(images, seed=0)
    record = RecordedReconstructions(
        smooth, tmp_path / "r.npy", mode="anomalous", n_intensities=3, shape=images.shape
    )
    record(images)
    with pytest.raises(ValueError, match="1 reconstructions, expected 4"):
        record.close()
    specs = resolve_scorers({"residual": {}})
    with pytest.raises(ValueError, match="expects"):
        scored_model_curves(
            images,
            centres,
            smooth(images)[None],
            mode="anomalous",
            radius=4,
            intensities=np.array([0.2, 0.8]),
            specs=specs,
        )


def test_model_curves_reject_unknown_metric_and_mode():
    images = brain_slices(1, 32, seed=3)
    centres = anomaly_centres(images, seed=0)
    specs = resolve_scorers({"residual": {}})
    kwargs = dict(radius=4, intensities=np.array([0.5]), specs=specs)
    rec = smooth(images)[None]
    with pytest.raises(ValueError, match="unknown metrics"):
        scored_model_curves(images, centres, rec, mode="healthy", metrics=["dice"], **kwargs)
    with pytest.raises(ValueError, match="mode"):
        scored_model_curves(images, centres, rec, mode="both", **kwargs)


def test_model_stats_mix_training_pixels_and_validation_residuals():
    train, val = brain_slices(4, 24, seed=6), brain_slices(3, 24, seed=7)
    stats = model_healthy_stats(train, val, smooth(val))
    np.testing.assert_allclose(stats.image_mean, train.astype(np.float64).mean(0), atol=1e-6)
    residuals = np.abs(smooth(val) - val).astype(np.float64)
    np.testing.assert_allclose(stats.residual_std, residuals.std(0), atol=1e-6)
    assert model_healthy_stats(train, val[:0], None).residual_mean is None


def test_blurred_stats_roundtrip(tmp_path):
    sigmas = np.linspace(0, 5, 7)
    stats = blurred_healthy_stats(brain_slices(3, 24, seed=8), sigmas)
    save_blurred_stats(tmp_path / "s.npz", stats)
    back = load_blurred_stats(tmp_path / "s.npz")
    assert list(back) == [float(s) for s in sigmas]  # keys exactly the grid's floats
    for s in sigmas:
        np.testing.assert_array_equal(back[float(s)].residual_mean, stats[float(s)].residual_mean)
        np.testing.assert_array_equal(back[float(s)].image_std, stats[float(s)].image_std)


# --------------------------------------------------------------------------------------------
# tables


def exp1_rows(score: str, aps: np.ndarray, intensities, sigmas) -> pd.DataFrame:
    """Per-image rows of a (images, sigmas, intensities) AP array."""
    n = aps.shape[0]
    return pd.DataFrame(
        {
            "score": score,
            "image": np.repeat(np.arange(n), len(sigmas) * len(intensities)),
            "sigma": np.tile(np.repeat(sigmas, len(intensities)), n),
            "intensity": np.tile(intensities, n * len(sigmas)),
            "ap": aps.ravel(),
        }
    )


def test_blindspot_and_summary_tables_by_hand():
    intensities, sigmas = np.array([0.0, 0.25, 0.5, 0.75]), np.array([0.0, 1.0, 2.0])
    mean = np.array(  # sigma x intensity, mean AP
        [[1.0, 1.0, 1.0, 1.0], [0.9, 0.4, 0.6, 0.3], [0.2, 0.1, 0.45, 0.9]]
    )
    aps = np.stack([mean - 0.05, mean + 0.05])  # two images, same mean
    exp1 = exp1_means([exp1_rows("a", aps, intensities, sigmas)])
    blind = blindspot_table(exp1, 0.5)
    assert blind["blind_low"].isna().iloc[0] and blind["width"].iloc[0] == 0
    assert blind.iloc[1][["blind_low", "blind_high", "width"]].tolist() == [0.25, 0.75, 0.5]
    assert blind.iloc[2][["blind_low", "blind_high"]].tolist() == [0.0, 0.5]
    np.testing.assert_allclose(blind["min_ap"], [1.0, 0.3, 0.1])
    exp3 = pd.DataFrame(
        {
            "model": "m",
            "mode": ["anomalous", "anomalous", "healthy"],
            "score": "a",
            "intensity": [0.0, 1.0, 0.0],
            "ap": [0.2, 0.6, 0.9],
            "pooled_ap": [0.1, 0.3, 0.9],
        }
    )
    summary = summary_table(exp1, exp3, ["m"], ["pooled_ap"], 0.5)
    row = summary.iloc[0]
    assert row["blind_spot_area"] == pytest.approx(5 / 12)  # 2 cells at sigma 1, 3 at 2
    assert row["min_ap_sigma1"] == pytest.approx(0.3) and row["min_ap_sigma2"] == pytest.approx(0.1)
    assert row["exp3_ap_m"] == pytest.approx(0.4)  # 3.2 only
    assert row["exp3_pooled_ap_m"] == pytest.approx(0.2)
    assert summary_table(exp1, None, [], [], 0.5).columns.tolist() == [
        "score",
        "blind_spot_area",
        "min_ap_sigma1",
        "min_ap_sigma2",
    ]


def test_exp1_means_are_the_heatmap_numbers_per_scorer():
    rng = np.random.default_rng(0)
    intensities, sigmas = np.linspace(0, 1, 5), np.linspace(0, 2, 3)
    frames = [
        exp1_rows(s, rng.random((4, 3, 5)), intensities, sigmas) for s in ("residual", "ssim")
    ]
    table = exp1_means(frames)
    for frame in frames:
        _, long = heatmap_table(frame.drop(columns="score"))
        mine = table[table["score"] == frame["score"].iloc[0]].drop(columns="score")
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), long)
    with pytest.raises(ValueError, match="one scorer"):
        exp1_means([pd.concat(frames)])


def test_texture_and_exp3_tables_average_over_images():
    rows = pd.DataFrame(
        {
            "score": "s",
            "anomaly": "sink",
            "image": [0, 1, 0, 1],
            "sigma": [0.0, 0.0, 1.0, 1.0],
            "ap": [0.2, 0.4, 0.6, 1.0],
        }
    )
    assert texture_means([rows])["ap"].tolist() == pytest.approx([0.3, 0.8])
    per_image = pd.DataFrame(
        {
            "model": "m",
            "mode": "anomalous",
            "score": "s",
            "image": [0, 1],
            "intensity": 0.5,
            "ap": [0.2, 0.6],
        }  # fmt: skip
    )
    pooled = pd.DataFrame(
        {"model": "m", "mode": "anomalous", "score": "s", "intensity": [0.5], "best_dice": [0.7]}
    )
    table = exp3_table([per_image], [pooled])
    assert table.to_dict("records") == [
        {
            "model": "m",
            "mode": "anomalous",
            "score": "s",
            "intensity": 0.5,
            "ap": 0.4,
            "best_dice": 0.7,
        }  # fmt: skip
    ]


# --------------------------------------------------------------------------------------------
# start-up checks


BROKEN = """
import numpy as np


def nan_scorer(inputs, reconstructions, *, stats=None):
    return np.full(inputs.shape, np.nan, np.float32)


def above_mean(inputs, reconstructions, *, stats):
    return inputs - stats.image_mean
"""


@pytest.fixture
def broken_module(tmp_path) -> Path:
    """A folder holding `broken_scores.py`, whose `nan_scorer` returns NaN everywhere."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "broken_scores.py").write_text(BROKEN)
    return folder


def test_zoo_entries_defaults_and_dropping():
    assert list(zoo_entries(None)) == list(SCORES)
    assert zoo_entries({"residual": {}, "ssim": False, "mine": {"scorer": "ssim"}}) == {
        "residual": {},
        "mine": {"scorer": "ssim"},
    }


def test_check_zoo_errors_name_the_key(monkeypatch, broken_module):
    specs = resolve_scorers({"residual_zscore": {}, "pixel_zscore": {}})
    flags = dict(has_train=True, has_val=False, has_models=True)
    with pytest.raises(ConfigError, match=r"scores\.residual_zscore.*val_fraction"):
        check_zoo(specs, [], **flags)
    check_zoo(resolve_scorers({"pixel_zscore": {}}), [], **flags)  # image statistics only
    check_zoo(specs, [], has_train=True, has_val=False, has_models=False)  # no model: no need
    with pytest.raises(ConfigError, match=r"scores\.residual_zscore.*training slices"):
        check_zoo(specs, [], has_train=False, has_val=True, has_models=False)
    with pytest.raises(ConfigError, match=r"evaluation\.metrics.*'dice'"):
        check_zoo({}, ["pooled_ap", "dice"], **flags)
    monkeypatch.syspath_prepend(str(broken_module))
    broken = resolve_scorers({"broken": {"function": "broken_scores:nan_scorer"}})
    with pytest.raises(ScoreError, match="'broken'.*NaN"):
        check_zoo(broken, [], has_train=True, has_val=True, has_models=True)
    # a user scorer that needs statistics is checked with statistics
    needy = resolve_scorers(
        {"needy": {"function": "broken_scores:above_mean", "needs_stats": True}}
    )
    check_zoo(needy, [], has_train=True, has_val=True, has_models=True)
    with pytest.raises(ConfigError, match=r"scores\.needy.*val_fraction"):
        check_zoo(needy, [], has_train=True, has_val=False, has_models=True)


# --------------------------------------------------------------------------------------------
# the real DAG on the tiny config

TARGETS = ("scores_exp1", "scores_blindspot", "scores_textures", "scores_exp3")


def snakemake(
    workdir: Path, *args: str, check: bool = True, path: Path | None = None
) -> subprocess.CompletedProcess:
    """Run snakemake with examples/byos (and `path`) importable, as a user's PYTHONPATH would."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(workdir / ".numba")}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(BYOS), path and str(path), env.get("PYTHONPATH")])
    )
    cmd = snakemake_command(workdir, *args)
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1500)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


def planned(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    match = re.search(r"Job stats:\n(.*?)\n\n", result.stdout + result.stderr, flags=re.S)
    table = match.group(1) if match else ""
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def overlay(workdir: Path, name: str, text: str) -> str:
    path = workdir / name
    path.write_text(text)
    return str(path)


@pytest.mark.workflow
@pytest.mark.slow
def test_zoo_builds_every_target_with_a_byo_scorer(tmp_path):
    byos = str(BYOS / "byos.yaml")
    outputs = [f"results/{t}.pdf" for t in TARGETS] + ["results/scores_summary.csv"]
    paper = ["results/fig1a.pdf", "results/fig2.pdf", "results/fig3b.pdf", "results/fig3a.pdf"]
    snakemake(tmp_path, *outputs, *paper, "--configfile", str(TINY), byos, "--cores", "2")
    results = tmp_path / "results"
    for target in TARGETS:
        for suffix in (".pdf", ".png", ".csv"):
            assert (results / f"{target}{suffix}").stat().st_size > 0, (target, suffix)
    assert (results / "scores_summary.html").stat().st_size > 0
    names = set(SCORES) | {"ssim_med3", "smoothed_residual"}  # the built-ins + the overlay's
    # Exp 1: the residual's rows are Fig. 1(a)'s CSV, exactly
    exp1 = pd.read_csv(results / "scores_exp1.csv")
    assert exp1.columns.tolist() == ["score", "intensity", "sigma", "ap"]
    assert set(exp1["score"]) == names
    residual = exp1[exp1["score"] == "residual"].drop(columns="score").reset_index(drop=True)
    pd.testing.assert_frame_equal(residual, pd.read_csv(results / "fig1a.csv"), check_exact=True)
    blind = pd.read_csv(results / "scores_blindspot.csv")
    assert blind.columns.tolist() == [
        "score",
        "sigma",
        "blind_low",
        "blind_high",
        "width",
        "min_ap",
    ]
    # Exp 2: per image, the residual's APs are those of Fig. 2's experiment
    exp2 = pd.read_parquet(results / "metrics" / "scores" / "exp2" / "residual.parquet")
    for anomaly, rows in exp2.groupby("anomaly"):
        paper_rows = pd.read_parquet(results / "metrics" / f"exp2_{anomaly}.parquet")
        np.testing.assert_array_equal(rows["ap"].to_numpy(), paper_rows["ap"].to_numpy())
    textures = pd.read_csv(results / "scores_textures.csv")
    assert textures.columns.tolist() == ["score", "anomaly", "sigma", "ap"]
    assert set(textures["score"]) == names
    # Exp 3: per image, the residual's APs are Fig. 3's, exactly (the same reconstructions)
    for mode in ("healthy", "anomalous"):
        mine = pd.read_parquet(results / "metrics" / "scores" / "exp3" / "ae32" / f"{mode}.parquet")
        mine = mine[mine["score"] == "residual"]
        paper_rows = pd.read_parquet(results / "metrics" / f"exp3_ae32_{mode}_bn-eval.parquet")
        np.testing.assert_array_equal(mine["ap"].to_numpy(), paper_rows["ap"].to_numpy())
    exp3 = pd.read_csv(results / "scores_exp3.csv")
    assert exp3.columns.tolist()[:5] == ["model", "mode", "score", "intensity", "ap"]
    n_models = len(tiny_models())
    assert set(exp3["score"]) == names and exp3["model"].nunique() == n_models
    summary = pd.read_csv(results / "scores_summary.csv")
    assert summary["score"].tolist() == exp1["score"].unique().tolist()
    assert {"blind_spot_area", "min_ap_sigma1", "min_ap_sigma2", "exp3_ap_vqvae"} <= set(summary)
    assert summary["blind_spot_area"].between(0, 1).all()

    # adding one scorer reruns only its own Exp 1/2 jobs, none of the other scorers'
    extra = overlay(tmp_path, "extra.yaml", "scores: {msgms_med3: {scorer: msgms, median: 3}}\n")
    jobs = planned(snakemake(tmp_path, "-n", *outputs, "--configfile", str(TINY), byos, extra))
    assert jobs["score_exp1"] == 1 and jobs["score_textures"] == 1, jobs
    # Exp 3 scores every scorer in one job per (model, mode), from the reconstructions the paper's
    # Exp 3 job recorded in a temp file: adding a scorer redoes those forward passes once
    assert jobs["score_exp3"] == 2 * n_models and jobs["model_intensity_curve"] == 2 * n_models, (
        jobs
    )
    assert not {"score_blur_stats", "score_model_stats", "train_model"} & set(jobs), jobs
    # restyling reruns only the plots
    style = overlay(tmp_path, "style.yaml", "figures: {dpi: 61}\n")
    jobs = planned(snakemake(tmp_path, "-n", *outputs, "--configfile", str(TINY), byos, style))
    plots = {f"scores_{t}" for t in ("exp1", "blindspot", "textures", "exp3")}
    assert set(jobs) - {"all", "total"} <= plots, jobs
    assert jobs, "restyling must replot"


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("scores: {bogus: {}}\n", "scores.bogus"),
        ("scores: {ssim: {median: 4}}\n", "scores.ssim.median"),
        ("scores: {ssim: {params: {window: 3}}}\n", "scores.ssim.params"),
        ("scores: {mine: {function: 'no_such_module:fn'}}\n", "scores.mine.function"),
        ("scores: {broken: {function: 'broken_scores:nan_scorer'}}\n", "'broken'"),
        ("split: {val_fraction: 0.0}\ntraining: {val_every: 0}\n", "scores.residual_zscore"),
        ("evaluation: {metrics: [dice]}\n", "metrics"),
    ],
)
def test_bad_zoo_config_is_a_start_up_error_naming_the_key(tmp_path, broken_module, text, key):
    """At parse, or in the check_setup job for what needs the user's code imported and run."""
    bad = overlay(tmp_path, "bad.yaml", text)
    result = snakemake(
        tmp_path, "results/checks/setup.ok", "--cores", "1", "--configfile", str(TINY), bad,
        check=False, path=broken_module,
    )  # fmt: skip
    log = tmp_path / "logs" / "check_setup.log"
    output = result.stdout + result.stderr + (log.read_text() if log.exists() else "")
    assert result.returncode != 0
    assert key in output, output[-3000:]


def test_model_statistics_use_the_configured_batchnorm_mode(tmp_path):
    """residual_zscore standardises a model's Exp 3 residuals by its residuals on the validation
    slices: both must come from the same evaluation mode, or per-image BatchNorm is scored against
    eval-mode statistics without a word."""
    from residual_pitfalls.experiments.zoo import model_healthy_stats
    from residual_pitfalls.models import load_model, reconstruct
    from residual_pitfalls.scorers.stats import load_healthy_stats

    mode = overlay(tmp_path, "bn.yaml", "evaluation: {batchnorm: per_image}\n")
    snakemake(
        tmp_path, "results/metrics/scores/healthy_ae128.npz", "--configfile", str(TINY), mode,
        "--cores", "2",
    )  # fmt: skip
    model = load_model(tmp_path / "results" / "models" / "ae128" / "model.pt")
    val = np.load(tmp_path / "results" / "data" / "val.npy")
    train = np.load(tmp_path / "results" / "data" / "train.npy")
    saved = load_healthy_stats(tmp_path / "results" / "metrics" / "scores" / "healthy_ae128.npz")
    for batchnorm, same in (("per_image", True), ("eval", False)):
        rec = reconstruct(model, val, batch_size=8, batchnorm=batchnorm)
        expected = model_healthy_stats(train, val, rec)
        equal = np.allclose(saved.residual_mean, expected.residual_mean, atol=1e-6)
        assert equal == same, batchnorm
