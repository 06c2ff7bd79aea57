"""Healthy statistics a scorer learns from healthy slices, and their files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from residual_pitfalls.reconstruction import blur


class ScoreError(ValueError):
    """A scorer returned a map of the wrong shape or with NaN/inf; the message names it."""


# --------------------------------------------------------------------------------------------
# healthy statistics


def _as_stack(a: object, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 3:
        raise ValueError(f"{name} must be (N, H, W), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be real numbers (float32 expected), got {arr.dtype}")
    return arr.astype(np.float32, copy=False)


@dataclass(frozen=True)
class HealthyStats:
    """Per-pixel statistics of healthy slices, each ``(H, W)`` float32.

    ``image_mean``/``image_std``: over healthy training slices (``pixel_zscore``).
    ``residual_mean``/``residual_std``: of ``|reconstruction - image|`` of the same reconstruction
    method on healthy slices (``residual_zscore``); ``None`` when no reconstructions were given.
    """

    image_mean: np.ndarray
    image_std: np.ndarray
    residual_mean: np.ndarray | None = None
    residual_std: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.image_mean.shape

    def crop(self, rows: slice, cols: slice) -> HealthyStats:
        """The statistics of the window ``[rows, cols]``."""
        return HealthyStats(
            *(None if a is None else a[rows, cols] for a in self._arrays())  # type: ignore[arg-type]
        )

    def _arrays(self) -> tuple[np.ndarray | None, ...]:
        return (self.image_mean, self.image_std, self.residual_mean, self.residual_std)


_STATS_KEYS = ("image_mean", "image_std", "residual_mean", "residual_std")


def _mean_std(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    stack = stack.astype(np.float64)
    return stack.mean(axis=0).astype(np.float32), stack.std(axis=0).astype(np.float32)


def healthy_stats(images: np.ndarray, reconstructions: np.ndarray | None = None) -> HealthyStats:
    """Per-pixel mean and std (population) of healthy slices and, optionally, of the residuals.

    Args:
        images: ``(N, H, W)`` healthy slices in [0, 1], N >= 1.
        reconstructions: ``(N, H, W)`` the reconstruction method's output for ``images`` (e.g.
            the slices blurred with sigma, or a model's reconstructions of validation slices),
            or ``None`` (then ``residual_mean``/``residual_std`` are ``None``).

    Returns:
        :class:`HealthyStats` with ``(H, W)`` float32 arrays (computed in float64).
    """
    images = _as_stack(images, "images")
    mean, std = _mean_std(images)
    if reconstructions is None:
        return HealthyStats(mean, std)
    reconstructions = _as_stack(reconstructions, "reconstructions")
    if reconstructions.shape != images.shape:
        raise ValueError(
            f"reconstructions have shape {reconstructions.shape}, images {images.shape}"
        )
    r_mean, r_std = _mean_std(np.abs(reconstructions - images))
    return HealthyStats(mean, std, r_mean, r_std)


def blurred_healthy_stats(images: np.ndarray, sigmas: np.ndarray) -> dict[float, HealthyStats]:
    """Exp 1's statistics: for each sigma, :func:`healthy_stats` of the training slices and
    their blurs with sigma (the Exp 1 "reconstruction method"). Keys are ``float(sigma)``.

    images: ``(N, H, W)`` healthy training slices; sigmas: ``(S,)`` >= 0.
    """
    images = _as_stack(images, "images")
    mean, std = _mean_std(images)
    out = {}
    for sigma in np.asarray(sigmas, dtype=np.float64).reshape(-1):
        recon = np.stack([blur(img, float(sigma)) for img in images])
        r_mean, r_std = _mean_std(np.abs(recon - images))
        out[float(sigma)] = HealthyStats(mean, std, r_mean, r_std)
    return out


def save_healthy_stats(path: str | Path, stats: HealthyStats) -> None:
    """Write ``stats`` to an ``.npz`` file (float32 arrays; absent residual stats are omitted)."""
    arrays = {
        k: np.asarray(a, dtype=np.float32)
        for k, a in zip(_STATS_KEYS, stats._arrays(), strict=True)
        if a is not None
    }
    with open(path, "wb") as fh:  # a file handle: np.savez would append ".npz" to the name
        np.savez(fh, **arrays)


def load_healthy_stats(path: str | Path, shape: tuple[int, int] | None = None) -> HealthyStats:
    """Read and validate a file written by :func:`save_healthy_stats`.

    Raises ValueError naming ``path`` on a missing or unknown array, arrays that are not 2-D
    float of one shape, a shape other than ``shape`` (when given), NaN/inf or a negative std.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read healthy statistics from {path}: {exc}") from exc
    unknown = set(arrays) - set(_STATS_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown arrays {sorted(unknown)}; expected {_STATS_KEYS}")
    for key in _STATS_KEYS[:2]:
        if key not in arrays:
            raise ValueError(f"{path}: array {key!r} is missing")
    if ("residual_mean" in arrays) != ("residual_std" in arrays):
        raise ValueError(f"{path}: residual_mean and residual_std must be given together")
    expected = tuple(shape) if shape is not None else arrays["image_mean"].shape
    for key, a in arrays.items():
        if a.ndim != 2 or not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"{path}: {key} must be a 2-D float array, got {a.dtype} {a.shape}")
        if a.shape != expected:
            raise ValueError(
                f"{path}: {key} has shape {a.shape}, expected {expected} (the images' H x W)"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{path}: {key} contains NaN or inf")
        if key.endswith("_std") and a.min() < 0:
            raise ValueError(f"{path}: {key} has negative values")
    return HealthyStats(*(arrays.get(k) for k in _STATS_KEYS))  # type: ignore[arg-type]
