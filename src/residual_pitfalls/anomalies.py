"""Artificial anomalies painted into healthy 2-D slices (paper section 2, SPEC section 2).

Every function takes a healthy slice ``image`` of shape ``(H, W)``, floating dtype, values in
``[0, 1]`` with an exact-zero background (brain mask = ``image > 0``), a centre ``(row, col)``
inside the image and a radius in pixels, and returns ``(anomalous, label)``:

* ``anomalous``: ``(H, W) float32`` in ``[0, 1]``, a new array; background stays 0;
* ``label``: ``(H, W) bool``, the disk (``skimage.draw.disk`` semantics, indices clipped to the
  image) intersected with the brain mask.

Inputs are never modified. Randomness only comes from an explicit ``np.random.Generator``, in two
streams per image ``i``, so every condition of an experiment's grid sees the same anomaly without any global
re-seeding: the centre is the one draw of :func:`image_rng` (``default_rng([seed, i])``, see
:func:`sample_centre` / :func:`anomaly_centres`), and the pixel-shuffle permutation is the one draw
of ``experiments.texture_rng`` (``default_rng([seed, i, 1])``), a stream of its own, so adding or
removing a texture never moves a centre.

The registry :data:`ANOMALIES` maps a name to a function with the uniform signature
``fn(image, centre, radius, rng, **params) -> (anomalous, label)``; :func:`make_anomaly` looks a
name up and checks its parameters.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import numpy as np

from residual_pitfalls.anomaly_checks import (
    _check_centre,
    _check_image,
    _check_intensity,
    _check_radius,
    _check_rng,
    _check_seed,
)

__all__ = [
    "ANOMALIES",
    "anomaly_centres",
    "disk_anomaly",
    "disk_label",
    "image_rng",
    "make_anomaly",
    "pixel_shuffle",
    "sample_centre",
    "sink_deformation",
    "source_deformation",
]


# --------------------------------------------------------------------------------------------
# centres


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The per-image generator ``np.random.default_rng([seed, index])``.

    Every experiment draws image ``index``'s anomaly centre from this generator, with one
    :func:`sample_centre` call; nothing else is drawn from it (the pixel-shuffle permutation has its
    own stream, ``experiments.texture_rng``). Keying on ``(seed, index)`` makes an image's centre
    independent of the other images and of the condition.

    Args:
        seed: non-negative int, the experiment seed.
        index: non-negative int, the image's position in the (sorted) data set.
    """
    return np.random.default_rng([_check_seed(seed), _check_seed(index)])


def sample_centre(image: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Draw an anomaly centre uniformly among the foreground pixels of ``image``.

    The foreground pixels (``image > 0``) are enumerated in row-major order and one index is
    drawn with a single ``rng.integers(n_foreground)`` call (the generator advances by one draw).

    Args:
        image: ``(H, W)`` float in [0, 1], the healthy slice.
        rng: the image's generator (see :func:`image_rng`).

    Returns:
        ``(row, col)`` Python ints with ``image[row, col] > 0``.

    Raises:
        ValueError: if ``image`` has no foreground pixel ("empty brain mask") or is invalid.
    """
    _check_image(image)
    _check_rng(rng)
    rows, cols = np.nonzero(image > 0)
    if rows.size == 0:
        raise ValueError(
            f"empty brain mask: image of shape {image.shape} has no pixel > 0 to place an anomaly"
        )
    k = int(rng.integers(rows.size))
    return int(rows[k]), int(cols[k])


def anomaly_centres(images: np.ndarray, seed: int) -> np.ndarray:
    """Centres for a stack of images, image ``i`` drawn with ``image_rng(seed, i)``.

    Image ``i``'s centre does not depend on the other images (adding images does not move it).

    Args:
        images: ``(N, H, W)`` float in [0, 1], the healthy slices.
        seed: non-negative int.

    Returns:
        ``(N, 2) int64`` array of ``(row, col)`` centres, each on a foreground pixel.
    """
    if not isinstance(images, np.ndarray) or images.ndim != 3:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(f"images must be a 3-D array (N, H, W), got {shape}")
    seed = _check_seed(seed)
    centres = np.empty((images.shape[0], 2), dtype=np.int64)
    for i in range(images.shape[0]):
        try:
            centres[i] = sample_centre(images[i], image_rng(seed, i))
        except ValueError as err:
            raise ValueError(f"images[{i}]: {err}") from None
    return centres


# --------------------------------------------------------------------------------------------
# label


def disk_label(image: np.ndarray, centre: tuple[int, int], radius: float) -> np.ndarray:
    """Disk around ``centre``, clipped to the image, intersected with the brain mask.

    The disk is the pixel set of ``skimage.draw.disk(centre, radius)``:
    ``((r - r0) / R)**2 + ((c - c0) / R)**2 < 1`` (float64, same expression). As in the original,
    indices falling outside the image are *clipped* (not dropped): such rows/cols land on the
    border row/col. For a centre inside the image the clipped pixel is nearer the centre, hence
    already in the disk, so clipping equals cropping here (kept for fidelity).

    Args:
        image: ``(H, W)`` float in [0, 1], the healthy slice (brain mask = ``image > 0``).
        centre: ``(row, col)`` ints inside the image.
        radius: ``R > 0`` in pixels (20 in the paper: 1,245 pixels away from borders).

    Returns:
        ``(H, W) bool`` label.
    """
    _check_image(image)
    r0, c0 = _check_centre(centre, image.shape)
    radius = _check_radius(radius)
    h, w = image.shape
    # Bounding box of the disk, as skimage computes it (unconstrained by the image shape).
    r_lo, r_hi = math.ceil(r0 - radius), math.floor(r0 + radius)
    c_lo, c_hi = math.ceil(c0 - radius), math.floor(c0 + radius)
    dr = np.arange(r_lo, r_hi + 1, dtype=np.float64) - r0
    dc = np.arange(c_lo, c_hi + 1, dtype=np.float64) - c0
    inside = ((dr / radius) ** 2)[:, None] + ((dc / radius) ** 2)[None, :] < 1
    rr, cc = np.nonzero(inside)
    rr = np.clip(rr + r_lo, 0, h - 1)
    cc = np.clip(cc + c_lo, 0, w - 1)
    label = np.zeros((h, w), dtype=bool)
    label[rr, cc] = True
    label &= image > 0
    return label


# --------------------------------------------------------------------------------------------
# anomalies


def disk_anomaly(
    image: np.ndarray, centre: tuple[int, int], radius: float, intensity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Intensity anomaly: the label pixels are set to a constant ``intensity``.

    Args:
        image: ``(H, W)`` float in [0, 1], healthy slice.
        centre: ``(row, col)`` ints inside the image.
        radius: ``R > 0`` pixels.
        intensity: float in [0, 1].

    Returns:
        ``(anomalous (H, W) float32 in [0, 1], label (H, W) bool)``; outside the label the healthy
        values are kept (background stays 0).
    """
    intensity = _check_intensity(intensity)
    label = disk_label(image, centre, radius)
    out = image.astype(np.float32, copy=True)
    out[label] = np.float32(intensity)
    return out, label


def _deform(
    image: np.ndarray, centre: tuple[int, int], radius: float, sink: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Shared body of the source/sink deformations, vectorised over the label pixels."""
    label = disk_label(image, centre, radius)
    r0, c0 = _check_centre(centre, image.shape)
    radius = float(radius)
    h, w = image.shape
    rows, cols = np.nonzero(label)
    pix = np.stack([rows, cols], axis=1)  # (n, 2) int64, I
    ctr = np.array([r0, c0], dtype=np.int64)  # C
    diff = pix - ctr  # I - C, exact integers
    # Same float64 expression as the reference: s = (||I - C||_2 / R)^2 with the norm as
    # sqrt of the (exact) integer sum of squares, so rounding ties break identically.
    norm = np.sqrt(np.sum(diff * diff, axis=1).astype(np.float64))
    s = np.square(norm / radius)[:, None]
    # sink: d' = d (2 - d^2/R^2) >= d, up to ~1.089 R; source: d' = d^3 / R^2 <= d
    v = np.round(pix + (1.0 - s) * diff) if sink else np.round(ctr + s * diff)
    # np.round is round-half-to-even on float64, as in the original. Rows are clipped to H - 1 and
    # cols to W - 1. The original's source clipped rows with W and cols with H (equal only for
    # square images); done right here so non-square images are handled correctly.
    vr = np.clip(v[:, 0], 0, h - 1).astype(np.int64)
    vc = np.clip(v[:, 1], 0, w - 1).astype(np.int64)
    out = image.astype(np.float32, copy=True)
    # Sample from the original image, never from the partially deformed one.
    out[rows, cols] = image[vr, vc]
    return out, label


def source_deformation(
    image: np.ndarray, centre: tuple[int, int], radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Source deformation: content near the centre is magnified outward.

    Each label pixel ``I`` takes the healthy value at ``V = round(C + s (I - C))``, clipped to the
    image, with ``s = (|I - C| / R)^2`` (so it samples closer to the centre: ``d' = d^3 / R^2``).
    The centre pixel is unchanged.

    Args:
        image: ``(H, W)`` float in [0, 1]; centre: ``(row, col)`` ints inside the image;
        radius: ``R > 0`` pixels.

    Returns:
        ``(anomalous (H, W) float32 in [0, 1], label (H, W) bool)``.
    """
    return _deform(image, centre, radius, sink=False)


def sink_deformation(
    image: np.ndarray, centre: tuple[int, int], radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sink deformation: the surrounding content is compressed toward the centre.

    Each label pixel ``I`` takes the healthy value at ``V = round(I + (1 - s) (I - C))``, clipped to
    the image, with ``s = (|I - C| / R)^2``. The sampled distance ``d (2 - d^2/R^2)`` peaks at about
    1.089 R, so values from outside the disk (including background zeros near the brain edge) are
    pulled in. The centre pixel is unchanged.

    Args:
        image: ``(H, W)`` float in [0, 1]; centre: ``(row, col)`` ints inside the image;
        radius: ``R > 0`` pixels.

    Returns:
        ``(anomalous (H, W) float32 in [0, 1], label (H, W) bool)``.
    """
    return _deform(image, centre, radius, sink=True)


def pixel_shuffle(
    image: np.ndarray, centre: tuple[int, int], radius: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel shuffle: the label pixels' values are permuted among themselves.

    The label pixels are enumerated in row-major order and pixel ``k`` takes the value of pixel
    ``perm[k]`` with ``perm = rng.permutation(n_label)`` (one draw from ``rng``).

    Args:
        image: ``(H, W)`` float in [0, 1]; centre: ``(row, col)`` ints inside the image;
        radius: ``R > 0`` pixels; rng: the image's generator (after the centre draw).

    Returns:
        ``(anomalous (H, W) float32 in [0, 1], label (H, W) bool)``; same multiset of values.
    """
    _check_rng(rng)
    label = disk_label(image, centre, radius)
    out = image.astype(np.float32, copy=True)
    values = out[label]
    out[label] = values[rng.permutation(values.size)]
    return out, label


# --------------------------------------------------------------------------------------------
# registry


def _disk_entry(
    image: np.ndarray,
    centre: tuple[int, int],
    radius: float,
    rng: np.random.Generator | None,
    *,
    intensity: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Registry form of :func:`disk_anomaly` (``rng`` unused)."""
    return disk_anomaly(image, centre, radius, intensity)


def _source_entry(
    image: np.ndarray, centre: tuple[int, int], radius: float, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """Registry form of :func:`source_deformation` (``rng`` unused)."""
    return source_deformation(image, centre, radius)


def _sink_entry(
    image: np.ndarray, centre: tuple[int, int], radius: float, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """Registry form of :func:`sink_deformation` (``rng`` unused)."""
    return sink_deformation(image, centre, radius)


def _shuffle_entry(
    image: np.ndarray, centre: tuple[int, int], radius: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Registry form of :func:`pixel_shuffle`."""
    return pixel_shuffle(image, centre, radius, rng)


ANOMALIES: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "disk": _disk_entry,
    "sink": _sink_entry,
    "source": _source_entry,
    "pixel_shuffle": _shuffle_entry,
}
"""Name -> ``fn(image, centre, radius, rng, **params) -> (anomalous, label)``.

Params: ``disk`` takes ``intensity=`` (float in [0, 1]); the others take none. ``rng`` is only used
by ``pixel_shuffle`` (the others accept ``None``).
"""


def _param_names(fn: Callable[..., object]) -> tuple[set[str], set[str]]:
    """(required, optional) keyword-only parameter names of a registry function."""
    required, optional = set(), set()
    for p in inspect.signature(fn).parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            (required if p.default is inspect.Parameter.empty else optional).add(p.name)
    return required, optional


def make_anomaly(
    name: str,
    image: np.ndarray,
    centre: tuple[int, int],
    radius: float,
    rng: np.random.Generator | None,
    **params: object,
) -> tuple[np.ndarray, np.ndarray]:
    """Look ``name`` up in :data:`ANOMALIES` and apply it.

    Args:
        name: one of ``ANOMALIES`` ("disk", "sink", "source", "pixel_shuffle").
        image, centre, radius, rng: as for the anomaly functions.
        **params: the anomaly's parameters (``intensity`` for "disk").

    Returns:
        ``(anomalous (H, W) float32, label (H, W) bool)``.

    Raises:
        ValueError: unknown ``name`` (lists the valid ones), or a missing/unknown parameter (named).
    """
    if name not in ANOMALIES:
        raise ValueError(f"unknown anomaly {name!r}; valid names: {', '.join(sorted(ANOMALIES))}")
    fn = ANOMALIES[name]
    required, optional = _param_names(fn)
    unknown = sorted(set(params) - required - optional)
    if unknown:
        accepted = ", ".join(sorted(required | optional)) or "none"
        raise ValueError(
            f"anomaly {name!r} got unknown parameter(s) {', '.join(unknown)}; accepted: {accepted}"
        )
    missing = sorted(required - set(params))
    if missing:
        raise ValueError(f"anomaly {name!r} is missing required parameter(s) {', '.join(missing)}")
    return fn(image, centre, radius, rng, **params)
