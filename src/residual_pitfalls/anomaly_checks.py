"""Argument checks of the anomaly makers in :mod:`residual_pitfalls.anomalies`: each returns the
checked value or raises a ``ValueError`` naming the argument and what is expected."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def _check_image(image: object, name: str = "image") -> np.ndarray:
    """Return ``image`` if it is a finite 2-D floating array with values in [0, 1]."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim != 2:
        raise ValueError(f"{name} must be 2-D (H, W), got shape {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{name} must have a floating dtype (float32 expected), got {image.dtype}")
    if image.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {image.shape}")
    lo, hi = float(np.min(image)), float(np.max(image))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or inf values; expected values in [0, 1]")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} values must lie in [0, 1], got range [{lo}, {hi}]")
    return image


def _check_radius(radius: object) -> float:
    if isinstance(radius, bool) or not isinstance(radius, Real):
        raise ValueError(f"radius must be a real number > 0, got {radius!r}")
    r = float(radius)
    if not (math.isfinite(r) and r > 0.0):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    return r


def _check_centre(centre: object, shape: tuple[int, ...]) -> tuple[int, int]:
    try:
        r0, c0 = centre  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"centre must be a (row, col) pair of ints, got {centre!r}") from None
    for v in (r0, c0):
        if isinstance(v, bool) or not isinstance(v, Integral):
            raise ValueError(f"centre must be a (row, col) pair of ints, got {centre!r}")
    r0, c0 = int(r0), int(c0)
    if not (0 <= r0 < shape[0] and 0 <= c0 < shape[1]):
        raise ValueError(f"centre {(r0, c0)} lies outside the image of shape {tuple(shape)}")
    return r0, c0


def _check_intensity(intensity: object) -> float:
    if isinstance(intensity, bool) or not isinstance(intensity, Real):
        raise ValueError(f"intensity must be a number in [0, 1], got {intensity!r}")
    v = float(intensity)
    if not (0.0 <= v <= 1.0):  # also rejects NaN
        raise ValueError(f"intensity must lie in [0, 1], got {intensity!r}")
    return v


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator (e.g. image_rng(seed, i)), "
            f"got {type(rng).__name__}"
        )
    return rng


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)
