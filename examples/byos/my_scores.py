"""Bring your own scorer: one function, importable as ``my_scores:smoothed_residual``.

A scorer takes ``(inputs, reconstructions, *, stats, **params)``, both ``(N, H, W)`` float32
images in [0, 1], and returns ``(N, H, W)`` finite scores, higher = more anomalous. ``stats`` is
the healthy statistics (``residual_pitfalls.scorers.stats.HealthyStats``) when the config entry says
``needs_stats: true``, else None. Params come from the config entry's ``params:``.
"""

import numpy as np
from scipy.ndimage import gaussian_filter


def smoothed_residual(
    inputs: np.ndarray, reconstructions: np.ndarray, *, stats=None, sigma: float = 1.0
) -> np.ndarray:
    """The residual ``|x - x_hat|`` smoothed in-plane with a Gaussian of ``sigma`` px: single
    bright pixels (noise) are damped, coherent blobs kept."""
    residual = np.abs(reconstructions - inputs)
    return gaussian_filter(residual, sigma=(0, sigma, sigma)).astype(np.float32)
