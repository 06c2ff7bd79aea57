"""Simulated reconstructions: the paper's imperfect "perfect anomaly remover" (SPEC 3)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a healthy slice, exactly ``scipy.ndimage.gaussian_filter(image, sigma)``.

    image: (H, W) float32; sigma >= 0 in pixels (0 returns a copy). Returns (H, W) float32.
    scipy's defaults (reflect mode, truncate 4) are the paper's; a torch convolution would not be
    bit-identical.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    image = np.asarray(image, dtype=np.float32)
    return gaussian_filter(image, sigma=float(sigma)) if sigma > 0 else image.copy()
