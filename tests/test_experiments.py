"""The experiment composers against a brute-force construction of every anomaly map + sklearn."""

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter
from sklearn.metrics import average_precision_score

from residual_pitfalls.anomalies import anomaly_centres, disk_anomaly, make_anomaly
from residual_pitfalls.experiments.paper import (
    intensity_sigma_grid,
    model_intensity_curves,
    texture_rng,
    texture_sigma_curve,
)


def phantom_slices(n: int = 3, size: int = 48, seed: int = 0) -> np.ndarray:
    """(n, size, size) float32: textured ellipses with an exact-zero background, quantised values
    so that ties between normal and anomalous scores really occur."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    images = []
    for _ in range(n):
        inside = (yy / rng.uniform(0.3, 0.45)) ** 2 + (xx / rng.uniform(0.3, 0.45)) ** 2 < 1
        texture = (
            0.4 + 0.1 * np.sin(rng.uniform(10, 30) * xx) + 0.05 * rng.standard_normal(xx.shape)
        )
        images.append(np.where(inside, np.clip(np.round(texture, 2), 0.01, 1), 0))
    return np.asarray(images, dtype=np.float32)


@pytest.fixture(scope="module")
def images():
    return phantom_slices()


def test_intensity_sigma_grid_equals_brute_force_sklearn(images):
    centres = anomaly_centres(images, seed=3)
    intensities = np.linspace(0, 1, 7)
    sigmas = np.array([0.0, 0.25, 0.8, 2.0])
    frame = intensity_sigma_grid(images, centres, radius=6, intensities=intensities, sigmas=sigmas)
    assert len(frame) == len(images) * len(sigmas) * len(intensities)
    for row in frame.itertuples():
        image = images[row.image]
        anomalous, label = disk_anomaly(image, tuple(centres[row.image]), 6, row.intensity)
        scores = np.abs(gaussian_filter(image, row.sigma) - anomalous)
        expected = average_precision_score(label.ravel(), scores.ravel())
        assert abs(row.ap - expected) <= 1e-12, row


def test_grid_is_the_same_with_worker_processes(images):
    centres = anomaly_centres(images, seed=0)
    kwargs = {"radius": 5, "intensities": np.linspace(0, 1, 4), "sigmas": np.array([0.5, 1.0])}
    serial = intensity_sigma_grid(images, centres, workers=1, **kwargs)
    parallel = intensity_sigma_grid(images, centres, workers=2, **kwargs)
    pd.testing.assert_frame_equal(serial, parallel)


@pytest.mark.parametrize("anomaly", ["sink", "source", "pixel_shuffle"])
def test_texture_curve_equals_brute_force_sklearn(images, anomaly):
    centres = anomaly_centres(images, seed=1)
    sigmas = np.array([0.0, 0.5, 1.5])
    frame = texture_sigma_curve(images, centres, anomaly=anomaly, radius=7, sigmas=sigmas, seed=1)
    for row in frame.itertuples():
        anomalous, label = make_anomaly(
            anomaly, images[row.image], tuple(centres[row.image]), 7, texture_rng(1, row.image)
        )
        scores = np.abs(gaussian_filter(images[row.image], row.sigma) - anomalous)
        assert abs(row.ap - average_precision_score(label.ravel(), scores.ravel())) <= 1e-12


@pytest.mark.parametrize("mode", ["healthy", "anomalous"])
def test_model_curves_match_brute_force(images, mode):
    """A 'model' that blurs its input: 3.1 must equal the blur grid, 3.2 must blur the anomaly too."""
    centres = anomaly_centres(images, seed=2)
    intensities = np.linspace(0, 1, 5)

    def reconstruct(batch):
        return np.stack([gaussian_filter(b, 1.0) for b in batch])

    frame, _ = model_intensity_curves(
        images, centres, reconstruct, mode=mode, radius=6, intensities=intensities
    )
    for row in frame.itertuples():
        image = images[row.image]
        anomalous, label = disk_anomaly(image, tuple(centres[row.image]), 6, row.intensity)
        rec = gaussian_filter(image if mode == "healthy" else anomalous, 1.0)
        expected = average_precision_score(label.ravel(), np.abs(rec - anomalous).ravel())
        assert abs(row.ap - expected) <= 1e-12
    if mode == "healthy":
        grid = intensity_sigma_grid(
            images, centres, radius=6, intensities=intensities, sigmas=np.array([1.0])
        )
        np.testing.assert_allclose(frame["ap"], grid["ap"], atol=1e-12)


@pytest.mark.parametrize("mode", ["healthy", "anomalous"])
def test_a_reconstruction_writing_into_its_input_changes_neither_images_nor_aps(images, mode):
    """A model callable that edits its input in place must score as its out-of-place twin."""
    from residual_pitfalls.experiments.paper import model_examples

    centres = anomaly_centres(images, seed=2)
    kept = images.copy()

    def in_place(batch):
        batch *= 0.5
        return batch

    kwargs = {"mode": mode, "radius": 6}
    frame, rec = model_intensity_curves(
        images, centres, in_place, intensities=np.linspace(0, 1, 5), **kwargs
    )
    twin, twin_rec = model_intensity_curves(
        images, centres, lambda b: b * 0.5, intensities=np.linspace(0, 1, 5), **kwargs
    )
    np.testing.assert_array_equal(images, kept)
    pd.testing.assert_frame_equal(frame, twin)
    np.testing.assert_array_equal(rec, twin_rec)
    examples = model_examples(images, centres, in_place, intensity=0.6, **kwargs)
    twin_examples = model_examples(images, centres, lambda b: b * 0.5, intensity=0.6, **kwargs)
    np.testing.assert_array_equal(images, kept)
    for key, value in twin_examples.items():
        np.testing.assert_array_equal(examples[key], value, err_msg=key)


def test_model_mode_is_checked(images):
    with pytest.raises(ValueError, match="mode"):
        model_intensity_curves(
            images,
            anomaly_centres(images, 0),
            lambda b: b,
            mode="both",
            radius=3,
            intensities=np.array([0.5]),
        )
