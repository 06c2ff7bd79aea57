"""Tests of the embedded synthetic brain generator (small cubes: the file runs in seconds)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from helpers import synthetic_tissue_probabilities as _tissue_probabilities

from residual_pitfalls.data.synthetic import _calibration_scale, synthetic_volume

SIZE = 48
SEED = 7


@pytest.fixture(scope="module")
def full() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_volume(3, seed=SEED, size=SIZE)


def test_shape_dtype_range_and_exact_background(full):
    volume, _ = full
    assert volume.shape == (SIZE, SIZE, SIZE)
    assert volume.dtype == np.float32
    assert volume.min() == 0.0
    assert volume.max() <= 1.0
    brain = volume > 0
    assert 0.05 < brain.mean() < 0.6
    # everything that is not brain is exactly 0 (no noise leaks into the background)
    assert np.count_nonzero(volume[~brain]) == 0


def test_foreground_is_exactly_the_resampled_brain(full):
    # Noise must neither create foreground outside the brain nor zero a voxel inside it.
    volume, _ = full
    probs = _tissue_probabilities(3, seed=SEED, size=SIZE)
    inside = probs.sum(axis=0) > 0
    np.testing.assert_array_equal(volume > 0, inside)


def test_brain_fits_in_the_cube_and_affine_is_ras(full):
    volume, affine = full
    for axis in range(3):
        assert not np.take(volume, 0, axis=axis).any()
        assert not np.take(volume, SIZE - 1, axis=axis).any()
    assert nib.aff2axcodes(affine) == ("R", "A", "S")
    assert affine.shape == (4, 4)
    assert affine.dtype == np.float64
    centre = affine @ np.array([(SIZE - 1) / 2] * 3 + [1.0])
    np.testing.assert_allclose(centre[:3], 0.0, atol=1e-9)


def test_centre_slice_cuts_through_the_ventricles():
    # Fig. 5 of the paper: the test (centre) slice shows ventricles, i.e. CSF near the middle.
    c = SIZE // 2
    probs = _tissue_probabilities(3, seed=SEED, size=SIZE, slab=(c, c + 1))[:, :, :, c]
    q = SIZE // 4
    central_csf = probs[0, q : SIZE - q, q : SIZE - q]
    assert (central_csf > 0.7).sum() >= 4
    # and the slice also holds plenty of grey and white matter
    assert (probs[1] > 0.5).sum() > 50
    assert (probs[2] > 0.5).sum() > 50


def test_deterministic_per_seed_and_subject(full):
    volume, affine = full
    again, affine_again = synthetic_volume(3, seed=SEED, size=SIZE)
    np.testing.assert_array_equal(volume, again)
    np.testing.assert_array_equal(affine, affine_again)


def test_subjects_and_seeds_differ(full):
    volume, _ = full
    c = SIZE // 2
    other_subject, _ = synthetic_volume(4, seed=SEED, size=SIZE, slab=(c, c + 1))
    other_seed, _ = synthetic_volume(3, seed=SEED + 1, size=SIZE, slab=(c, c + 1))
    for other in (other_subject, other_seed):
        a, b = volume[:, :, c], other[:, :, c]
        # different anatomy (outline), not just different noise
        assert np.count_nonzero((a > 0) != (b > 0)) > 10
        assert np.abs(a - b).mean() > 0.01


def test_slab_equals_the_same_slices_of_a_full_render(full):
    volume, affine = full
    lo, hi = 17, 29
    slab, slab_affine = synthetic_volume(3, seed=SEED, size=SIZE, slab=(lo, hi))
    np.testing.assert_array_equal(slab[:, :, lo:hi], volume[:, :, lo:hi])
    assert not slab[:, :, :lo].any()
    assert not slab[:, :, hi:].any()
    np.testing.assert_array_equal(slab_affine, affine)


@pytest.mark.parametrize("target", [0.2, 0.36, 0.446, 0.9])
def test_target_mean_calibration(target):
    lo, hi = 20, 28
    volume, _ = synthetic_volume(5, seed=SEED, size=SIZE, slab=(lo, hi), target_mean=target)
    rendered = volume[:, :, lo:hi]
    brain = rendered[rendered > 0]
    assert abs(float(brain.mean()) - target) < 1e-3
    assert brain.min() > 0.0
    assert brain.max() <= 1.0
    # calibration only rescales the brain: the outline is unchanged
    plain, _ = synthetic_volume(5, seed=SEED, size=SIZE, slab=(lo, hi))
    np.testing.assert_array_equal(volume > 0, plain > 0)


def test_target_mean_on_a_slab_without_brain_raises():
    with pytest.raises(ValueError, match="no brain voxel"):
        synthetic_volume(0, seed=SEED, size=SIZE, slab=(0, 1), target_mean=0.4)


def test_calibration_scale_matches_a_bisection():
    rng = np.random.default_rng(0)
    values = rng.uniform(0.05, 0.9, 5000)
    for target in (0.1, 0.45, 0.7, 0.95):
        scale = _calibration_scale(values, target)
        assert abs(np.minimum(scale * values, 1.0).mean() - target) < 1e-12
        lo, hi = 0.0, 100.0
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.minimum(mid * values, 1.0).mean() < target else (lo, mid)
        assert scale == pytest.approx(lo, rel=1e-9)


def test_tissue_ordering_csf_brighter_than_gm_brighter_than_wm(full):
    volume, _ = full
    probs = _tissue_probabilities(3, seed=SEED, size=SIZE)
    means = []
    for tissue in probs:  # CSF, GM, WM
        pure = tissue > 0.8
        assert pure.sum() > 30
        means.append(float(volume[pure].mean()))
    csf, gm, wm = means
    assert csf > gm > wm


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subject": -1}, "subject"),
        ({"subject": 1.5}, "subject"),
        ({"seed": -3}, "seed"),
        ({"size": 15}, "size"),
        ({"size": 32.0}, "size"),
        ({"slab": (5, 5)}, "slab"),
        ({"slab": (-1, 4)}, "slab"),
        ({"slab": (0, SIZE + 1)}, "slab"),
        ({"slab": (1, 2, 3)}, "slab"),
        ({"slab": (1.0, 4)}, "slab"),
        ({"target_mean": 0.0}, "target_mean"),
        ({"target_mean": 1.0}, "target_mean"),
        ({"target_mean": -0.2}, "target_mean"),
        ({"target_mean": "0.4"}, "target_mean"),
    ],
)
def test_argument_errors(kwargs, match):
    args = {"subject": 0, "seed": SEED, "size": SIZE} | kwargs
    subject = args.pop("subject")
    with pytest.raises(ValueError, match=match):
        synthetic_volume(subject, **args)


def _centre_slice(subject: int, size: int) -> np.ndarray:
    k = size // 2
    return synthetic_volume(subject, seed=SEED, size=size, slab=(k, k + 1))[0][:, :, k]


def test_receive_coil_shading_darkens_the_brain_centre():
    """Pure white matter within 20 mm of the cube's centre is darker than beyond 45 mm (the
    shading removes 45-60 % at the centre; the regional texture alone averages out)."""
    size = 64
    images = np.stack([_centre_slice(s, size) for s in range(4)])
    k = size // 2
    wm = np.stack(
        [
            _tissue_probabilities(s, seed=SEED, size=size, slab=(k, k + 1))[2, :, :, k]
            for s in range(4)
        ]
    )
    axis = (np.arange(size) - (size - 1) / 2) * 208.0 / size
    r = np.hypot(*np.meshgrid(axis, axis, indexing="ij"))
    pure = wm > 0.9
    centre, outer = images[pure & (r < 20)], images[pure & (r > 45)]
    assert centre.size > 20 and outer.size > 20
    assert centre.mean() < 0.8 * outer.mean()


def test_centre_slice_histogram_is_shaped_like_moods():
    """The calibrated design's histogram (docs/synthetic.md): a sharp grey-matter mode above the
    brain mean with a long darker tail, most pixels in [0.2, 0.6] (MOOD: mean 0.36, mode 0.46,
    89 %), ~30 k brain pixels per 256^2 slice."""
    images = np.stack([_centre_slice(s, 256) for s in range(4)])
    brain = images[images > 0]
    counts, edges = np.histogram(brain, bins=100, range=(0.0, 1.0))
    mode = edges[counts.argmax()] + 0.005
    assert 0.33 < brain.mean() < 0.42
    assert 0.42 < mode < 0.50 and mode > brain.mean() + 0.03
    assert ((brain >= 0.2) & (brain <= 0.6)).mean() > 0.8
    assert 25_000 < brain.size / len(images) < 36_000


def test_brain_ends_in_a_step_as_a_stripped_scan_does():
    """A skull-stripped scan keeps its voxels' signal up to the binary mask, so the outermost
    brain pixels are as bright as the ring just inside (the rim's CSF), not a fade towards 0 (the
    smoothed template mask alone gave them ~0.65 of the inner ring's mean)."""
    from scipy import ndimage

    for subject in range(3):
        image = _centre_slice(subject, 128)
        brain = image > 0
        ring1 = ndimage.binary_erosion(brain)
        ring2 = ndimage.binary_erosion(ring1)
        outer, inner = image[brain & ~ring1].mean(), image[ring1 & ~ring2].mean()
        assert outer > 0.9 * inner, (subject, outer, inner)
