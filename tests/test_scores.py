"""Scorer registry, healthy statistics, config validation and the Exp 1 fast path of any scorer.

Oracles: skimage's SSIM map, an independent torch implementation of MSGMS, plain numpy formulas,
and "full map + sklearn average_precision_score" for every fast path.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from helpers import brain_slices
from scipy.ndimage import binary_erosion, gaussian_filter, median_filter
from skimage.metrics import structural_similarity

from residual_pitfalls.anomalies import anomaly_centres
from residual_pitfalls.config import ConfigError
from residual_pitfalls.experiments.paper import intensity_sigma_grid
from residual_pitfalls.scorers.builtin import SCORES
from residual_pitfalls.scorers.fast_path import (
    scored_intensity_sigma_grid,
    scorer_aps_per_intensity,
)
from residual_pitfalls.scorers.guards import ERODED
from residual_pitfalls.scorers.registry import (
    check_scorer,
    needs_stats,
    resolve_scorers,
    score_maps,
)
from residual_pitfalls.scorers.stats import (
    HealthyStats,
    ScoreError,
    blurred_healthy_stats,
    healthy_stats,
    load_healthy_stats,
    save_healthy_stats,
)

BYOS = Path(__file__).resolve().parents[1] / "examples" / "byos"
BUILTINS = [
    "residual",
    "positive_residual",
    "ssim",
    "msgms",
    "residual_ssim",
    "intensity",
    "pixel_zscore",
    "residual_zscore",
]


def pair(n: int = 3, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = brain_slices(n, size, seed)
    r = np.clip(gaussian_filter(x, (0, 1.0, 1.0)) + 0.01, 0, 1).astype(np.float32)
    return x, r


# ---------------------------------------------------------------------------- built-in maps


def test_registry_has_exactly_the_builtins():
    assert list(SCORES) == BUILTINS
    assert [n for n in SCORES if SCORES[n].needs_stats] == ["pixel_zscore", "residual_zscore"]


def test_ssim_equals_skimage_per_pixel():
    x, r = pair(3, 32)
    maps = score_maps("ssim", x, r)
    for i in range(len(x)):
        # the same values as float64: skimage computes in the input's float type, and in float32
        # its variances (E[x^2] - E[x]^2) lose ~1e-5; ours are computed in float64
        _, ref = structural_similarity(
            x[i].astype(np.float64),
            r[i].astype(np.float64),
            data_range=1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            full=True,
        )
        assert np.abs(maps[i] - (1 - ref)).max() <= 1e-5
    assert maps.dtype == np.float32 and maps.shape == x.shape
    assert np.abs(score_maps("ssim", x, x)).max() <= 1e-6  # identical images: SSIM 1


def msgms_torch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Independent MSGMS: torch avg_pool2d, conv2d Prewitt (replicate pad), bilinear upsample."""
    tx = torch.from_numpy(x.astype(np.float64))[:, None]
    ty = torch.from_numpy(y.astype(np.float64))[:, None]
    h, w = x.shape[1:]
    ph, pw = -h % 8, -w % 8
    tx = F.pad(tx, (0, pw, 0, ph), mode="replicate")
    ty = F.pad(ty, (0, pw, 0, ph), mode="replicate")
    kx = torch.tensor([[1.0, 0, -1]] * 3, dtype=torch.float64)[None, None] / 3
    ky = kx.transpose(2, 3)

    def grad(t):
        p = F.pad(t, (1, 1, 1, 1), mode="replicate")
        return torch.sqrt(F.conv2d(p, kx) ** 2 + F.conv2d(p, ky) ** 2)

    total = torch.zeros_like(tx)
    for s in range(4):
        if s:
            tx, ty = F.avg_pool2d(tx, 2), F.avg_pool2d(ty, 2)
        gx, gy = grad(tx), grad(ty)
        gms = (2 * gx * gy + 0.0026) / (gx**2 + gy**2 + 0.0026)
        if s:
            gms = F.interpolate(gms, scale_factor=2**s, mode="bilinear", align_corners=False)
        total += gms
    return (1 - total / 4)[:, 0, :h, :w].numpy()


@pytest.mark.parametrize("size", [32, 37])
def test_msgms_equals_independent_torch_version(size):
    x, r = pair(2, size, seed=size)
    maps = score_maps("msgms", x, r)
    assert np.abs(maps - msgms_torch(x, r)).max() <= 1e-6
    assert np.abs(score_maps("msgms", x, x)).max() <= 1e-6
    assert maps.max() > 0.05  # the blur is visible


def test_pixelwise_builtins_follow_their_formulas():
    x, r = pair(2, 24)
    res = np.abs(r - x)
    assert np.array_equal(score_maps("residual", x, r), res)
    assert np.array_equal(score_maps("positive_residual", x, r), np.maximum(x - r, 0))
    assert np.array_equal(score_maps("intensity", x, r), x)
    _, s0 = structural_similarity(
        x[0].astype(np.float64), r[0].astype(np.float64), data_range=1, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, full=True,
    )  # fmt: skip
    assert np.abs(score_maps("residual_ssim", x, r)[0] - res[0] * (1 - s0)).max() <= 1e-6
    train = brain_slices(5, 24, seed=7)
    recon = np.clip(train + 0.02, 0, 1).astype(np.float32)
    st = healthy_stats(train, recon)
    mu, sd = train.astype(np.float64).mean(0), train.astype(np.float64).std(0)
    np.testing.assert_allclose(score_maps("pixel_zscore", x, r, stats=st),
                               np.abs(x - mu) / (sd + 0.01), rtol=1e-5, atol=1e-5)  # fmt: skip
    rr = np.abs(recon - train).astype(np.float64)
    np.testing.assert_allclose(
        score_maps("residual_zscore", x, r, stats=st),
        (res - rr.mean(0)) / (rr.std(0) + 0.01),
        rtol=1e-5,
        atol=1e-4,
    )


def test_scorers_needing_stats_say_so():
    x, r = pair(1, 16)
    with pytest.raises(ValueError, match="pixel_zscore.*needs healthy statistics"):
        score_maps("pixel_zscore", x, r)
    with pytest.raises(ValueError, match="residual_zscore.*residual statistics"):
        score_maps("residual_zscore", x, r, stats=healthy_stats(x))
    with pytest.raises(ValueError, match=r"\(20, 20\).*\(16, 16\)"):
        score_maps("pixel_zscore", x, r, stats=healthy_stats(brain_slices(2, 20, 1)))


# ---------------------------------------------------------------------------- stats files


def test_healthy_stats_roundtrip_and_validation(tmp_path):
    train = brain_slices(4, 16, seed=3)
    st = healthy_stats(train, np.clip(train * 0.9, 0, 1))
    path = tmp_path / "stats.npz"
    save_healthy_stats(path, st)
    back = load_healthy_stats(path, shape=(16, 16))
    for a, b in zip(dataclasses.astuple(st), dataclasses.astuple(back), strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match=r"stats\.npz.*\(16, 16\), expected \(32, 32\)"):
        load_healthy_stats(path, shape=(32, 32))
    only = tmp_path / "image_only.npz"
    save_healthy_stats(only, healthy_stats(train))
    assert load_healthy_stats(only).residual_mean is None
    bad = tmp_path / "bad.npz"
    np.savez(bad, image_mean=np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match=r"bad\.npz.*'image_std' is missing"):
        load_healthy_stats(bad)
    np.savez(bad, image_mean=np.zeros((4, 4)), image_std=np.full((4, 5), -1.0))
    with pytest.raises(ValueError, match=r"bad\.npz: image_std has shape \(4, 5\)"):
        load_healthy_stats(bad)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="cannot read healthy statistics"):
        load_healthy_stats(tmp_path / "junk.npz")


def test_blurred_healthy_stats_are_the_blur_residuals():
    train = brain_slices(3, 16, seed=5)
    out = blurred_healthy_stats(train, np.array([0.0, 1.5]))
    assert np.all(out[0.0].residual_mean == 0)
    blurred = gaussian_filter(train, (0, 1.5, 1.5))
    np.testing.assert_allclose(out[1.5].residual_mean, np.abs(blurred - train).mean(0), atol=1e-6)


# ---------------------------------------------------------------------------- post-processing


def test_median_then_erode():
    x, r = pair(2, 24)
    mask = x > 0
    spec = dataclasses.replace(resolve_scorers({"residual": {}})["residual"], median=3, erode=2)
    got = score_maps(spec, x, r)
    med = median_filter(np.abs(r - x), size=(1, 3, 3), mode="reflect")
    cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
    for i in range(2):
        kept = binary_erosion(mask[i], cross, iterations=2)
        assert kept.sum() < mask[i].sum()
        assert np.array_equal(got[i], np.where(kept, med[i], ERODED))  # below every score
    # an explicit brain mask replaces input > 0
    full = np.ones_like(mask)
    wider = score_maps(spec, x, r, brain_masks=full)
    assert np.count_nonzero(wider > ERODED) > np.count_nonzero(got > ERODED)


def bad_shape(inputs, reconstructions, *, stats):
    return inputs[:, 1:]


def nan_on_second(inputs, reconstructions, *, stats, scale=1.0):
    out = np.abs(inputs - reconstructions) * scale
    out[1, 0, 0] = np.nan
    return out


def needs_alpha(inputs, reconstructions, *, stats, alpha):
    return inputs * alpha


def test_user_scorer_output_is_checked(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    specs = resolve_scorers(
        {
            "shape": {"function": "test_scores:bad_shape"},
            "nan": {"function": "test_scores:nan_on_second", "params": {"scale": 2}},
        }
    )
    x, r = pair(3, 16)
    with pytest.raises(ScoreError, match=r"'shape' \(test_scores:bad_shape\) returned shape"):
        score_maps(specs["shape"], x, r)
    with pytest.raises(ScoreError, match="'nan'.*NaN or inf for image 1"):
        score_maps(specs["nan"], x, r)
    with pytest.raises(ScoreError, match="'nan'"):
        check_scorer(specs["nan"])
    for spec in resolve_scorers(None).values():
        check_scorer(spec)
    with pytest.raises(
        ScoreError, match=r"'residual_zscore'.*2 x 8 x 8 test batch.*residual statistics"
    ):
        check_scorer(resolve_scorers(None)["residual_zscore"], healthy_stats(brain_slices(2, 8, 0)))


# ---------------------------------------------------------------------------- config


def test_resolve_scorers_defaults_and_variants(monkeypatch):
    everything = resolve_scorers(None)
    assert list(everything) == BUILTINS
    assert [needs_stats(s) for s in everything.values()] == [n.endswith("zscore") for n in BUILTINS]
    monkeypatch.syspath_prepend(str(BYOS))
    specs = resolve_scorers(
        {
            "ssim": None,
            "z": {"scorer": "pixel_zscore", "params": {"eps": 0.1}, "median": 5, "erode": 1},
            "smoothed_residual": {
                "function": "my_scores:smoothed_residual",
                "params": {"sigma": 2.0},
                "needs_stats": True,
            },
        }
    )
    assert specs["ssim"].scorer is SCORES["ssim"] and specs["ssim"].median is None
    assert specs["z"].params == {"eps": 0.1} and specs["z"].median == 5 and specs["z"].erode == 1
    assert needs_stats(specs["z"]) and needs_stats(specs["smoothed_residual"])
    x, r = pair(2, 16)
    got = score_maps(specs["smoothed_residual"], x, r, stats=healthy_stats(x))
    assert np.allclose(got, gaussian_filter(np.abs(r - x), (0, 2, 2)), atol=1e-6)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"nope": {}}, r"'scores\.nope': unknown scorer 'nope'"),
        ({"a": {"scorer": "ssmi"}}, r"'scores\.a\.scorer': unknown scorer 'ssmi'"),
        ({"ssim": {"params": {"sigma": 2}}}, r"'scores\.ssim\.params': unknown params \['sigma'\]"),
        ({"ssim": {"median": 4}}, r"'scores\.ssim\.median': expected an odd int >= 3"),
        ({"ssim": {"median": 1}}, r"'scores\.ssim\.median'"),
        ({"ssim": {"median": True}}, r"'scores\.ssim\.median'"),
        ({"ssim": {"median": "3"}}, r"'scores\.ssim\.median'"),
        ({"ssim": {"erode": -1}}, r"'scores\.ssim\.erode': expected an int >= 0"),
        ({"ssim": {"colour": 1}}, r"'scores\.ssim': unknown keys \['colour'\]"),
        ({"ssim": {"needs_stats": True}}, r"'scores\.ssim\.needs_stats'"),
        ({"m": {"function": "no_such_module_xyz:f"}}, r"'scores\.m\.function': cannot import"),
        ({"m": {"function": "my_scores:nothing"}}, r"'scores\.m\.function'.*no attribute"),
        ({"m": {"function": "my_scores"}}, r"'scores\.m\.function'.*module:function"),
        (
            {"m": {"function": "test_scores:needs_alpha"}},
            r"'scores\.m\.params': missing \['alpha'\]",
        ),
        (
            {"m": {"function": "test_scores:needs_alpha", "params": {"alpha": 1, "beta": 2}}},
            r"'scores\.m\.params': unknown params \['beta'\]",
        ),
        ({"m": {"function": "helpers:brain_slices"}}, r"'scores\.m'.*'stats'"),
        ({"residual": {"function": "my_scores:smoothed_residual"}}, "is a built-in scorer"),
    ],
)
def test_resolve_scorers_errors_name_the_key(monkeypatch, entry, message):
    monkeypatch.syspath_prepend(str(BYOS))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    with pytest.raises(ConfigError, match=message):
        resolve_scorers(entry)


# ---------------------------------------------------------------------------- Exp 1 fast path


def grid_case(size: int, n: int, levels: int | None, radius: float):
    images = brain_slices(n, size, seed=size + n, levels=levels)
    centres = anomaly_centres(images, seed=1)
    intensities = np.array([0.0, 0.25, 0.5, 0.8, 1.0])
    sigmas = np.array([0.0, 0.7, 2.0])
    train = brain_slices(4, size, seed=99, levels=levels)
    return images, centres, radius, intensities, sigmas, blurred_healthy_stats(train, sigmas)


SPECS = {name: {} for name in BUILTINS} | {
    "residual_med3_erode2": {"scorer": "residual", "median": 3, "erode": 2},
    "ssim_med5": {"scorer": "ssim", "median": 5},
    "msgms_erode1": {"scorer": "msgms", "erode": 1},
    "user": {"function": "my_scores:smoothed_residual", "params": {"sigma": 1.0}},
}


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize(("size", "levels"), [(32, 8), (64, None)])
def test_fast_grid_equals_full_map_and_sklearn(monkeypatch, name, size, levels):
    monkeypatch.syspath_prepend(str(BYOS))
    spec = resolve_scorers({name: SPECS[name]})[name]
    images, centres, radius, inten, sigmas, stats = grid_case(size, 2, levels, size / 8)
    fast = scored_intensity_sigma_grid(images, centres, radius, inten, sigmas, spec, stats)
    naive = scored_intensity_sigma_grid(
        images, centres, radius, inten, sigmas, spec, stats, method="naive"
    )
    assert fast[["image", "sigma", "intensity"]].equals(naive[["image", "sigma", "intensity"]])
    assert np.abs(fast["ap"].to_numpy() - naive["ap"].to_numpy()).max() <= 1e-9
    assert fast["ap"].std() > 0.01  # the grid is not degenerate


def test_fast_grid_with_disk_at_the_border():
    """A disk touching the image corner: crops clip to the image (and msgms' 8-alignment)."""
    images = brain_slices(1, 40, seed=4)
    images[0, :3, :] = 0.5  # brain up to the top border
    images[0, :, :3] = 0.5
    centres = np.array([[1, 2]])
    inten, sigmas = np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.2])
    for name in ("ssim", "msgms", "residual_ssim"):
        args = (images, centres, 6.0, inten, sigmas, name)
        fast = scored_intensity_sigma_grid(*args)
        naive = scored_intensity_sigma_grid(*args, method="naive")
        assert np.abs(fast["ap"].to_numpy() - naive["ap"].to_numpy()).max() <= 1e-9


def test_plain_residual_is_the_existing_engine_and_equals_sklearn():
    """The plain residual goes to the paper's engine (same table), and that table equals the
    naive path (full map + sklearn per cell), which does not use the engine."""
    images, centres, radius, inten, sigmas, _ = grid_case(32, 3, 8, 4.0)
    ours = scored_intensity_sigma_grid(images, centres, radius, inten, sigmas, "residual")
    theirs = intensity_sigma_grid(images, centres, radius=radius, intensities=inten, sigmas=sigmas)
    assert ours.equals(theirs)
    naive = scored_intensity_sigma_grid(
        images, centres, radius, inten, sigmas, "residual", method="naive"
    )
    assert np.abs(ours["ap"].to_numpy() - naive["ap"].to_numpy()).max() <= 1e-9


def test_grid_needs_stats_for_zscores():
    images, centres, radius, inten, sigmas, stats = grid_case(32, 1, None, 4.0)
    with pytest.raises(ValueError, match="pixel_zscore.*needs healthy statistics"):
        scored_intensity_sigma_grid(images, centres, radius, inten, sigmas, "pixel_zscore")
    with pytest.raises(ValueError, match="no healthy statistics for sigma 0.7"):
        scored_intensity_sigma_grid(
            images, centres, radius, inten, sigmas, "residual_zscore", {0.0: stats[0.0]}
        )
    single = HealthyStats(stats[0.7].image_mean, stats[0.7].image_std)
    one = scored_intensity_sigma_grid(
        images, centres, radius, inten, sigmas, "pixel_zscore", single
    )
    per = scored_intensity_sigma_grid(images, centres, radius, inten, sigmas, "pixel_zscore", stats)
    assert one.equals(per)  # pixel_zscore only uses the image statistics


def test_fast_grid_crops_inside_a_large_image():
    """Crops that reach neither border: msgms' crop must start on its 8-pixel pooling grid."""
    images = brain_slices(1, 128, seed=11, levels=16)
    centres = np.array([[61, 67]])  # odd offsets: an unaligned crop would shift the grid
    inten, sigmas = np.array([0.0, 0.5, 0.9]), np.array([0.0, 1.0])
    for name in ("msgms", "ssim"):
        assert SCORES[name].reach * 2 + 5 < 61  # the crop is interior
        args = (images, centres, 5.0, inten, sigmas, name)
        fast = scored_intensity_sigma_grid(*args)
        naive = scored_intensity_sigma_grid(*args, method="naive")
        assert np.abs(fast["ap"].to_numpy() - naive["ap"].to_numpy()).max() <= 1e-9


@pytest.mark.parametrize("name", ["ssim", "residual_ssim", "msgms"])
def test_one_reconstruction_broadcast_over_a_batch_gives_the_same_maps(name):
    """Exp 1 passes one reconstruction broadcast over the intensities (stride 0)."""
    x = brain_slices(4, 24, seed=8)
    r = np.clip(gaussian_filter(x[0], 1.0), 0, 1).astype(np.float32)
    broadcast = score_maps(name, x, np.broadcast_to(r, x.shape))
    assert np.array_equal(broadcast, score_maps(name, x, np.repeat(r[None], 4, axis=0)))


def test_grid_with_worker_processes_equals_inline(monkeypatch):
    monkeypatch.syspath_prepend(str(BYOS))
    spec = resolve_scorers({"user": SPECS["user"]})["user"]
    images, centres, radius, inten, sigmas, stats = grid_case(32, 3, None, 4.0)
    for s in (spec, "residual_zscore"):
        inline = scored_intensity_sigma_grid(images, centres, radius, inten, sigmas, s, stats)
        pooled = scored_intensity_sigma_grid(
            images, centres, radius, inten, sigmas, s, stats, workers=2
        )
        assert pooled.equals(inline)


@pytest.mark.parametrize("name", list(SPECS))
def test_per_intensity_with_given_reconstructions_equals_full_map_and_sklearn(monkeypatch, name):
    """Exp 3.1: a model-like reconstruction per image (smoothed, offset, noisy), fixed over I."""
    monkeypatch.syspath_prepend(str(BYOS))
    spec = resolve_scorers({name: SPECS[name]})[name]
    images = brain_slices(2, 48, seed=21, levels=8)
    centres = anomaly_centres(images, seed=2)
    rng = np.random.default_rng(5)
    recon = gaussian_filter(images, (0, 1.2, 1.2)) * 0.9 + 0.03
    recon = np.round((recon + rng.normal(0, 0.02, recon.shape)) * 64) / 64  # ties
    recon = recon.astype(np.float32)
    train = brain_slices(4, 48, seed=22)
    stats = healthy_stats(train, np.clip(gaussian_filter(train, (0, 1.2, 1.2)), 0, 1))
    inten = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    args = (images, centres, 6.0, inten, recon, spec, stats)
    fast = scorer_aps_per_intensity(*args)
    naive = scorer_aps_per_intensity(*args, method="naive")
    assert fast.shape == (2, 5) and np.abs(fast - naive).max() <= 1e-9
    assert fast.std() > 0.01
