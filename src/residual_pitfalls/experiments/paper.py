"""The paper's experiments, composed from the pieces: each returns a tidy DataFrame (one row per image x condition).

Exp 1 / App. C: disk of intensity I, reconstruction = blur(healthy, sigma) (SPEC 2.2, 3).
Exp 2: texture anomalies (sink, source, pixel shuffle) x sigma (SPEC 2.3-2.5, 5.8).
Exp 3.1 / 3.2: a trained model reconstructs the healthy / the anomalous image (SPEC 5.5).
Every experiment paints its anomaly around the same per-image centre (``anomaly_centres``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from residual_pitfalls.anomalies import disk_label, make_anomaly
from residual_pitfalls.experiments.parallel import check_inputs, parallel_map
from residual_pitfalls.metrics.ap import average_precision, average_precision_per_intensity
from residual_pitfalls.reconstruction import blur


def linspace(spec: dict) -> np.ndarray:
    """``np.linspace(start, stop, num)`` from a ``{start, stop, num}`` mapping, float64."""
    return np.linspace(float(spec["start"]), float(spec["stop"]), int(spec["num"]))


def texture_rng(seed: int, image_index: int) -> np.random.Generator:
    """The generator of an image's texture randomness (pixel-shuffle permutation).

    A stream of its own, so the centre stream (``default_rng([seed, i])``) is untouched and every sigma
    sees the same permutation.
    """
    return np.random.default_rng([seed, image_index, 1])


def _image_sigma_intensity_aps(
    image: np.ndarray,
    centre: Sequence[int],
    radius: float,
    intensities: np.ndarray,
    sigmas: np.ndarray,
) -> np.ndarray:
    """(S, K) APs of one image: rows sigma, columns intensity (Exp 1 structure, SPEC 8.4 b)."""
    label = disk_label(image, (int(centre[0]), int(centre[1])), radius)
    aps = np.empty((len(sigmas), len(intensities)))
    for s, sigma in enumerate(sigmas):
        aps[s] = residual_aps_per_intensity(image, blur(image, float(sigma)), label, intensities)
    return aps


def residual_aps_per_intensity(
    image: np.ndarray, reconstruction: np.ndarray, label: np.ndarray, intensities: np.ndarray
) -> np.ndarray:
    """(K,) APs of |reconstruction - anomalous| where the anomalous image is `image` with the label
    pixels replaced by each intensity; reconstruction is fixed across intensities (Exp 1, 3.1)."""
    normal = ~label
    negatives = np.abs(reconstruction[normal] - image[normal])
    return average_precision_per_intensity(negatives, reconstruction[label], intensities)


def intensity_sigma_grid(
    images: np.ndarray,
    centres: np.ndarray,
    *,
    radius: float,
    intensities: np.ndarray,
    sigmas: np.ndarray,
    workers: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Exp 1 / App. C: AP of every image x sigma x intensity.

    images: (N, H, W) float32 in [0, 1] healthy slices; centres: (N, 2) (row, col).
    Returns columns image, sigma, intensity, ap (N * S * K rows).
    """
    check_inputs(images, centres)
    args = [(images[i], centres[i], radius, intensities, sigmas) for i in range(len(images))]
    per_image = parallel_map(_image_sigma_intensity_aps, args, workers, progress, "Exp 1 grid")
    return grid_frame(per_image, sigmas, intensities)


def grid_frame(
    per_image: Sequence[np.ndarray], sigmas: np.ndarray, intensities: np.ndarray
) -> pd.DataFrame:
    """Exp 1's long table (image, sigma, intensity, ap) of one (S, K) AP array per image."""
    n, s, k = len(per_image), len(sigmas), len(intensities)
    return pd.DataFrame(
        {
            "image": np.repeat(np.arange(n, dtype=np.int32), s * k),
            "sigma": np.tile(np.repeat(sigmas, k), n),
            "intensity": np.tile(intensities, n * s),
            "ap": np.concatenate([a.ravel() for a in per_image]) if n else np.empty(0),
        }
    )


def _texture_image(
    image: np.ndarray,
    centre: Sequence[int],
    radius: float,
    anomaly: str,
    seed: int,
    index: int,
    sigmas: np.ndarray,
) -> np.ndarray:
    """(S,) APs of one image with a texture anomaly, reconstruction = blur(healthy, sigma)."""
    anomalous, label = make_anomaly(
        anomaly, image, (int(centre[0]), int(centre[1])), radius, texture_rng(seed, index)
    )
    return np.array(
        [
            average_precision(label, np.abs(blur(image, float(sigma)) - anomalous))
            for sigma in sigmas
        ]
    )


def texture_sigma_curve(
    images: np.ndarray,
    centres: np.ndarray,
    *,
    anomaly: str,
    radius: float,
    sigmas: np.ndarray,
    seed: int,
    workers: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Exp 2: AP of every image x sigma for one texture anomaly. Columns anomaly, image, sigma, ap."""
    check_inputs(images, centres)
    args = [(images[i], centres[i], radius, anomaly, seed, i, sigmas) for i in range(len(images))]
    per_image = parallel_map(_texture_image, args, workers, progress, f"Exp 2 {anomaly}")
    n, s = len(images), len(sigmas)
    return pd.DataFrame(
        {
            "anomaly": anomaly,
            "image": np.repeat(np.arange(n, dtype=np.int32), s),
            "sigma": np.tile(sigmas, n),
            "ap": np.concatenate(per_image) if n else np.empty(0),
        }
    )


def disk_anomalous_images(
    images: np.ndarray, centres: np.ndarray, radius: float, intensity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Disk anomalies of one intensity in every image: ((N, H, W) float32, (N, H, W) bool labels)."""
    pairs = [
        make_anomaly("disk", img, (int(c[0]), int(c[1])), radius, None, intensity=float(intensity))
        for img, c in zip(images, centres, strict=True)
    ]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def model_intensity_curves(
    images: np.ndarray,
    centres: np.ndarray,
    reconstruct: Callable[[np.ndarray], np.ndarray],
    *,
    mode: str,
    radius: float,
    intensities: np.ndarray,
    progress: bool = False,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Exp 3.1 (mode "healthy") or 3.2 (mode "anomalous"): AP of every image x intensity.

    reconstruct: (N, H, W) float32 -> (N, H, W) float32 (a model in eval mode). It is handed copies,
    so a model that writes into its input cannot change the images the scores are computed against.
    Returns (DataFrame with columns image, intensity, ap, residual_error; the healthy reconstructions
    (N, H, W)). residual_error is the mean |reconstruction - input| over the whole image.
    """
    check_inputs(images, centres)
    if mode not in ("healthy", "anomalous"):
        raise ValueError(f"mode must be 'healthy' or 'anomalous', got {mode!r}")
    healthy_rec = np.array(reconstruct(images.copy()), dtype=np.float32)
    n, k = len(images), len(intensities)
    aps = np.empty((n, k))
    errors = np.empty((n, k))
    labels = [
        disk_label(img, (int(c[0]), int(c[1])), radius)
        for img, c in zip(images, centres, strict=True)
    ]
    if mode == "healthy":
        for i in range(n):
            aps[i] = residual_aps_per_intensity(images[i], healthy_rec[i], labels[i], intensities)
            errors[i] = np.abs(healthy_rec[i] - images[i]).mean()
    else:
        for j, intensity in enumerate(tqdm(intensities, desc="Exp 3.2", disable=not progress)):
            anomalous, _ = disk_anomalous_images(images, centres, radius, intensity)
            rec = reconstruct(anomalous.copy())
            maps = np.abs(rec - anomalous)
            aps[:, j] = [average_precision(labels[i], maps[i]) for i in range(n)]
            errors[:, j] = maps.reshape(n, -1).mean(axis=1)
    frame = pd.DataFrame(
        {
            "image": np.repeat(np.arange(n, dtype=np.int32), k),
            "intensity": np.tile(intensities, n),
            "ap": aps.ravel(),
            "residual_error": errors.ravel(),
        }
    )
    return frame, healthy_rec


def model_examples(
    images: np.ndarray,
    centres: np.ndarray,
    reconstruct: Callable[[np.ndarray], np.ndarray],
    *,
    mode: str,
    radius: float,
    intensity: float,
    count: int = 4,
) -> dict[str, np.ndarray]:
    """Fig. 4(a): for the first `count` test images, the anomalous input, the reconstruction (of the
    healthy image in mode "healthy", of the anomalous one in mode "anomalous"), the anomaly map
    |reconstruction - input| and the label; each (count, H, W)."""
    images, centres = images[:count], centres[:count]
    anomalous, labels = disk_anomalous_images(images, centres, radius, intensity)
    rec = np.array(reconstruct((images if mode == "healthy" else anomalous).copy()), np.float32)
    return {
        "input": anomalous,
        "reconstruction": rec,
        "anomaly_map": np.abs(rec - anomalous),
        "label": labels,
        "intensity": np.float64(intensity),
    }
