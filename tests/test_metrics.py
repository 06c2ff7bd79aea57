"""The fast AP paths against sklearn's average_precision_score (the oracle), corner cases included."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import brain_slices
from scipy.ndimage import gaussian_filter
from sklearn.metrics import average_precision_score

from residual_pitfalls.metrics import kernels
from residual_pitfalls.metrics.ap import (
    NoPositivesWarning,
    average_precision,
    average_precision_batch,
    average_precision_per_intensity,
    average_precision_reference,
)

TOL = 1e-12


def _ref(labels: np.ndarray, scores: np.ndarray) -> float:
    """sklearn, silenced for maps without positives (tested separately)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return average_precision_reference(labels, scores)


def _fast(labels: np.ndarray, scores: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPositivesWarning)
        return average_precision(labels, scores)


def _random_case(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of length ``n`` with heavy ties, exact zeros and class-crossing ties."""
    frac = rng.choice([0.0, 0.01, 0.1, 0.5, 0.95, 1.0])
    labels = rng.random(n) < frac
    kind = rng.integers(4)
    if kind == 0:  # few quantisation levels: ties everywhere, across the classes too
        scores = rng.integers(0, rng.integers(1, 6), n) / 4.0
    elif kind == 1:  # continuous, with a block of exact zeros
        scores = rng.random(n)
        scores[rng.random(n) < 0.4] = 0.0
    elif kind == 2:  # positives copy negatives' values exactly
        scores = np.round(rng.random(n), 2)
        if labels.any() and (~labels).any():
            scores[labels] = rng.choice(scores[~labels], labels.sum())
    else:  # signed values, -0.0 next to +0.0
        scores = rng.normal(size=n)
        scores[rng.random(n) < 0.2] = rng.choice([-0.0, 0.0])
    return labels, scores.astype(rng.choice([np.float32, np.float64]))


# --------------------------------------------------------------------------------------------
# general path


def test_general_matches_sklearn_on_small_random_maps_with_ties() -> None:
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(300):
        labels, scores = _random_case(rng, int(rng.integers(1, 40)))
        worst = max(worst, abs(_fast(labels, scores) - _ref(labels, scores)))
    assert worst <= TOL


def test_general_matches_sklearn_on_large_maps() -> None:
    """Sizes above the radix-sort threshold, (H, W) shapes and the 256x256 size of the paper."""
    rng = np.random.default_rng(1)
    for shape in [(300,), (64, 64), (256, 256)]:
        for _ in range(4):
            labels, scores = _random_case(rng, int(np.prod(shape)))
            labels, scores = labels.reshape(shape), scores.reshape(shape)
            assert abs(_fast(labels, scores) - _ref(labels, scores)) <= TOL


def test_general_accepts_uint8_and_float_labels_and_integer_scores() -> None:
    rng = np.random.default_rng(2)
    labels = rng.random((32, 32)) < 0.1
    scores = rng.integers(0, 7, (32, 32))
    expected = _ref(labels, scores)
    assert abs(average_precision(labels.astype(np.uint8), scores) - expected) <= TOL
    assert abs(average_precision(labels.astype(np.float32), scores) - expected) <= TOL


@pytest.mark.parametrize(
    ("labels", "scores"),
    [
        ([1], [0.3]),  # one pixel, positive
        ([1, 1, 1], [0.0, 0.5, 0.5]),  # no negatives
        ([1, 0, 1, 0], [0.2, 0.2, 0.2, 0.2]),  # all scores equal
        ([1, 0, 0, 0], [0.0, 0.0, 0.0, 0.0]),  # all exact zeros
        ([0, 1, 0, 1], [0.9, 0.1, 0.1, 0.0]),  # a tie across classes below a negative
        ([1, 0], [-0.0, 0.0]),  # signed zeros tie
    ],
)
def test_general_corner_cases(labels: list[int], scores: list[float]) -> None:
    labels_arr = np.array(labels, dtype=bool)
    for dtype in (np.float32, np.float64):
        scores_arr = np.array(scores, dtype=dtype)
        fast = average_precision(labels_arr, scores_arr)
        assert isinstance(fast, float)
        assert abs(fast - _ref(labels_arr, scores_arr)) <= TOL


def test_all_equal_scores_give_the_positive_fraction() -> None:
    labels = np.zeros((16, 16), dtype=bool)
    labels[3:7, 2:9] = True
    scores = np.full((16, 16), 0.25, dtype=np.float32)
    assert average_precision(labels, scores) == pytest.approx(labels.mean(), abs=TOL)


def test_no_positives_returns_sklearn_value_and_warns() -> None:
    scores = np.random.default_rng(3).random((8, 8)).astype(np.float32)
    labels = np.zeros((8, 8), dtype=bool)
    with pytest.warns(UserWarning, match="No positive class found"):
        expected = average_precision_reference(labels, scores)
    with pytest.warns(NoPositivesWarning, match="No positive class found"):
        assert average_precision(labels, scores) == expected == 0.0
    with pytest.warns(NoPositivesWarning):
        assert average_precision(np.array([0]), np.array([0.5])) == 0.0


@pytest.mark.parametrize(
    ("labels", "scores", "match"),
    [
        (np.array([0, 1]), np.array([0.1, np.nan]), "NaN or infinite"),
        (np.array([0, 1]), np.array([0.1, np.inf], dtype=np.float32), "NaN or infinite"),
        (np.array([0, 1, 1]), np.array([0.1, 0.2]), "shape"),
        (np.array([0, 2]), np.array([0.1, 0.2]), r"\{0, 1\}"),
        (np.array([], dtype=bool), np.array([]), "empty"),
        (np.array([0, 1]), np.array(["a", "b"]), "dtype"),
    ],
)
def test_general_rejects_bad_input(labels: np.ndarray, scores: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        average_precision(labels, scores)


def test_radix_sort_matches_numpy_sort() -> None:
    rng = np.random.default_rng(4)
    special = np.array(
        [-0.0, 0.0, 1e-45, -1e-45, 3.4e38, -3.4e38, 1.0, -1.0, 0.5, 0.5], dtype=np.float32
    )
    for x in [
        rng.normal(size=5000).astype(np.float32),
        np.concatenate([special, rng.random(500).astype(np.float32)]),
        np.full(1000, 0.125, dtype=np.float32),  # every radix pass is skipped
        np.round(rng.random(2000), 3).astype(np.float32),
    ]:
        rng.shuffle(x)
        out = kernels._sorted(x)
        assert out.dtype == np.float32
        assert np.array_equal(out, np.sort(x))


# --------------------------------------------------------------------------------------------
# batch


def test_batch_equals_per_map_calls() -> None:
    rng = np.random.default_rng(5)
    scores = np.round(rng.random((5, 24, 24)), 2).astype(np.float32)
    labels = rng.random((5, 24, 24)) < 0.1
    labels[2] = False
    labels[3] = True
    with pytest.warns(NoPositivesWarning):
        out = average_precision_batch(labels, scores)
    assert out.shape == (5,)
    assert out.dtype == np.float64
    expected = [_ref(labels[b], scores[b]) for b in range(5)]
    assert np.max(np.abs(out - expected)) <= TOL


def test_batch_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(B, \.\.\.\)"):
        average_precision_batch(np.array([0, 1]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="shape"):
        average_precision_batch(np.zeros((2, 3)), np.zeros((2, 4)))


# --------------------------------------------------------------------------------------------
# one map's APs per intensity (average_precision_per_intensity)


def _per_intensity_oracle(
    recon: np.ndarray, image: np.ndarray, label: np.ndarray, intensities: np.ndarray
) -> np.ndarray:
    """Build every anomalous image and its full map, then ask sklearn (what the paper does)."""
    out = []
    for intensity in intensities:
        anomalous = image.copy()
        anomalous[label] = np.float32(intensity)
        out.append(_ref(label, np.abs(recon - anomalous)))
    return np.array(out)


def _aps_per_intensity(
    recon: np.ndarray, image: np.ndarray, label: np.ndarray, intensities
) -> np.ndarray:
    neg_scores = np.abs(recon - image)[~label]
    return average_precision_per_intensity(neg_scores, recon[label], intensities)


def _tricky_intensities(recon: np.ndarray, image: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Grid values plus intensities equal to reconstruction values at the label (score 0) and
    ones placing a positive's score exactly on a negative's score."""
    pos = recon[label]
    neg = np.abs(recon - image)[~label]
    nonzero = neg[neg > 0]
    hits = [pos[0], pos[-1], pos[len(pos) // 2]]
    if nonzero.size:
        hits += [pos[1] + nonzero[0], pos[2] - nonzero[-1]]
    return np.concatenate([np.linspace(0, 1, 12), np.array(hits, dtype=np.float32)])


def test_per_intensity_matches_full_maps_with_exact_ties() -> None:
    """Dyadic values make |p - I| hit other positives' and negatives' scores exactly."""
    rng = np.random.default_rng(6)
    for _ in range(6):
        image = (rng.integers(0, 9, (20, 20)) / 8).astype(np.float32)
        recon = (rng.integers(0, 17, (20, 20)) / 16).astype(np.float32)
        label = (rng.random((20, 20)) < 0.3) & (image > 0)
        intensities = np.concatenate(
            [np.arange(0, 17) / 16, _tricky_intensities(recon, image, label)]
        )
        got = _aps_per_intensity(recon, image, label, intensities)
        assert got.shape == intensities.shape
        assert got.dtype == np.float64
        assert np.max(np.abs(got - _per_intensity_oracle(recon, image, label, intensities))) <= TOL


def test_per_intensity_matches_full_maps_on_random_continuous_images() -> None:
    rng = np.random.default_rng(7)
    for size in (5, 17, 40):
        image = rng.random((size, size)).astype(np.float32)
        image[rng.random((size, size)) < 0.3] = 0.0
        recon = gaussian_filter(image, 1.0)
        label = (rng.random((size, size)) < 0.2) & (image > 0)
        if not label.any():
            label.flat[np.argmax(image)] = True
        intensities = _tricky_intensities(recon, image, label)
        got = _aps_per_intensity(recon, image, label, intensities)
        assert np.max(np.abs(got - _per_intensity_oracle(recon, image, label, intensities))) <= TOL


def _disk_label(image: np.ndarray, centre: tuple[int, int], radius: int = 20) -> np.ndarray:
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    disk = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < radius**2
    return disk & (image > 0)


@pytest.mark.parametrize("sigma", [0.0, 0.6, 2.0, 5.0])
def test_per_intensity_matches_full_maps_on_a_realistic_cell(sigma: float) -> None:
    """256x256 smooth brain, radius-20 disk inside the foreground, gaussian blur as recon."""
    image = brain_slices(1, 256, seed=8)[0]
    label = _disk_label(image, (120, 100))
    assert 1000 < label.sum() <= 1245
    recon = gaussian_filter(image, sigma)
    intensities = np.concatenate(
        [np.linspace(0, 1, 100)[::14], recon[label][:2], [recon[label].max()]]
    )
    got = _aps_per_intensity(recon, image, label, intensities)
    assert np.max(np.abs(got - _per_intensity_oracle(recon, image, label, intensities))) <= TOL
    # the general path on the same maps
    anomalous = image.copy()
    anomalous[label] = np.float32(intensities[3])
    residual = np.abs(recon - anomalous)
    assert abs(average_precision(label, residual) - got[3]) <= TOL


def test_per_intensity_with_a_disk_at_the_brain_edge_and_float64_negatives() -> None:
    image = brain_slices(1, 64, seed=9)[0]
    fg = np.argwhere(image > 0)
    label = _disk_label(image, tuple(fg[0]), radius=6)  # topmost brain pixel: a partial disk
    recon = gaussian_filter(image, 1.5)
    intensities = _tricky_intensities(recon, image, label)
    neg64 = np.abs(recon - image)[~label].astype(np.float64)
    got = average_precision_per_intensity(neg64, recon[label], intensities)
    assert np.max(np.abs(got - _per_intensity_oracle(recon, image, label, intensities))) <= TOL


def test_per_intensity_float64_pos_values_use_float64_scores() -> None:
    rng = np.random.default_rng(10)
    neg = rng.random(500)
    pos = rng.random(40)
    intensities = np.array([0.0, 0.3, pos[5], 1.0])
    got = average_precision_per_intensity(neg, pos, intensities)
    labels = np.r_[np.zeros(500, bool), np.ones(40, bool)]
    expected = [_ref(labels, np.r_[neg, np.abs(pos - t)]) for t in intensities]
    assert np.max(np.abs(got - expected)) <= TOL


def test_per_intensity_corner_cases() -> None:
    pos = np.array([0.25, 0.5, 0.5], dtype=np.float32)
    # no negatives: every positive is ranked above every negative
    assert np.array_equal(average_precision_per_intensity([], pos, [0.0, 0.5]), [1.0, 1.0])
    # no intensities
    assert average_precision_per_intensity([0.1], pos, []).shape == (0,)
    # no positives: sklearn's 0.0, with its warning
    with pytest.warns(NoPositivesWarning):
        out = average_precision_per_intensity([0.1, 0.2], np.array([], np.float32), [0.1, 0.9])
    assert np.array_equal(out, [0.0, 0.0])
    # one negative and one positive, tied at 0
    single = average_precision_per_intensity([0.0], np.array([0.5], np.float32), [0.5])
    assert single[0] == pytest.approx(_ref(np.array([0, 1]), np.array([0.0, 0.0])), abs=TOL)


def _per_intensity_vs_sklearn(neg: np.ndarray, pos: np.ndarray, intensities: np.ndarray) -> float:
    """Max abs difference of the APs per intensity to sklearn on the concatenated maps."""
    got = average_precision_per_intensity(neg, pos, intensities)
    labels = np.r_[np.zeros(neg.size, bool), np.ones(pos.size, bool)]
    expected = [_ref(labels, np.r_[neg, np.abs(pos - pos.dtype.type(t))]) for t in intensities]
    return float(np.max(np.abs(got - expected)))


def test_per_intensity_long_runs_of_equal_negatives() -> None:
    """Many equal negatives just below, at and above positive scores (long equal runs)."""
    u = np.float32(0.3)
    up = np.nextafter(u, np.float32(1))
    neg = np.r_[np.full(300, u), np.full(40, up), [1e-3, 0.05, 0.9]].astype(np.float32)
    pos = np.array([np.nextafter(up, np.float32(1)), up, u, np.nextafter(u, 0), 0.2], np.float32)
    assert _per_intensity_vs_sklearn(neg, pos, np.array([0.0, 0.1])) <= TOL


def test_per_intensity_zero_scores_and_signed_zero_negatives() -> None:
    """An intensity equal to a reconstruction value gives a positive score of exactly 0, tied
    with the exact-zero (and -0.0) negatives."""
    rng = np.random.default_rng(11)
    neg = np.r_[np.zeros(200), np.full(50, -0.0), rng.random(400)].astype(np.float32)
    pos = rng.random(30).astype(np.float32)
    intensities = np.r_[pos[:3], 0.5, pos.max(), 0.0]
    assert _per_intensity_vs_sklearn(neg, pos, intensities) <= TOL
    assert _per_intensity_vs_sklearn(np.zeros(100, np.float32), pos, intensities) <= TOL


@pytest.mark.parametrize("counting", ["_intensity_aps_by_table", "_intensity_aps_by_scan"])
def test_both_intensity_kernels_match_sklearn_on_the_same_float32_maps(counting: str) -> None:
    """The bucket-table and the monotone-scan entry points, each forced on the same float32
    negatives (ties, exact and signed zeros, all zeros, none), equal sklearn: the public function
    picks one by dtype, so without this each is checked on other data only."""
    rng = np.random.default_rng(12)
    grid = np.round(rng.random(600) * 64) / 64
    for neg in (
        np.r_[np.zeros(100), np.full(20, -0.0), grid].astype(np.float32),
        rng.random(5000).astype(np.float32),
        np.zeros(50, np.float32),
        np.zeros(0, np.float32),
    ):
        pos = np.sort(np.r_[grid[:40], rng.random(40)].astype(np.float32))
        intensities = np.r_[np.linspace(0, 1, 17), pos[:3]].astype(np.float32)
        got = np.zeros(intensities.size)
        getattr(kernels, counting)(neg, pos, intensities, got)
        labels = np.r_[np.zeros(neg.size, bool), np.ones(pos.size, bool)]
        expected = [_ref(labels, np.r_[neg, np.abs(pos - t)]) for t in intensities]
        assert np.max(np.abs(got - expected)) <= TOL


def test_per_intensity_rejects_bad_input() -> None:
    pos = np.array([0.2, 0.4], dtype=np.float32)
    with pytest.raises(ValueError, match="pos_values must be float32"):
        average_precision_per_intensity([0.1], np.array([1, 2]), [0.5])
    with pytest.raises(ValueError, match="neg_scores contains NaN"):
        average_precision_per_intensity([np.nan], pos, [0.5])
    with pytest.raises(ValueError, match="intensities contain NaN"):
        average_precision_per_intensity([0.1], pos, [np.nan])
    with pytest.raises(ValueError, match="intensities contain NaN"):
        average_precision_per_intensity([0.1], pos, [1e300])  # inf once cast to float32


# --------------------------------------------------------------------------------------------
# numba cache


def test_works_when_numba_has_no_usable_cache_dir() -> None:
    """A cold process where numba finds no cache locator compiles without the disk cache."""
    code = (
        "import numpy as np\n"
        "from residual_pitfalls.metrics import ap, kernels\n"
        "assert type(kernels._ap_sorted._cache).__name__ == 'NullCache'\n"
        "print(ap.average_precision(np.array([1, 0, 1]), np.array([0.9, 0.5, 0.1])))\n"
    )
    # IPythonCacheLocator is the only locator left and it refuses a plain .py file
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "IPythonCacheLocator"}
    env.pop("NUMBA_CACHE_DIR", None)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    expected = average_precision_score([1, 0, 1], [0.9, 0.5, 0.1])
    assert float(result.stdout.strip()) == pytest.approx(expected, abs=TOL)
