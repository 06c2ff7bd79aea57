"""Subject-specific fine anatomy for the synthetic brains: cortical folding, ribbon, CSF rim.

The ICBM152 template behind :mod:`residual_pitfalls.data.synthetic` is an average of many brains: its
cortex is a smooth grey band without sulci. Each synthetic subject gets its own folding on top of it:

* **sulci**: CSF-filled clefts where a band-limited random field of the subject crosses zero,
  within a sulcal depth (itself a smooth random field) of the brain surface. The field is
  anisotropic in polar coordinates of the axial plane (short wavelength along the surface, long
  across it), so the clefts run from the surface inwards, as sulci do;
* **cortical ribbon**: grey matter wherever the distance to CSF (the surface, a sulcus) is below
  the subject's cortical thickness, which varies smoothly over the cortex; white matter beneath;
* **CSF rim**: a layer of subarachnoid CSF around the brain, wider in older subjects (atrophy),
  and sulci that widen with it.

Everything is a function of one axial slice and of the subject's random draws (3-D fields
evaluated at that slice's coordinates), so a slab render equals the same slices of a full render.
Distances are 2-D (within the axial slice), which is what a slice shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Folding", "draw_folding", "field", "fold_slice", "waves"]

# Ranges (docs/synthetic.md cites a source for each).
_SULCAL_WAVELENGTH_MM = (17.0, 23.0)  # along the surface: two sulci per wavelength
_RADIAL_WAVELENGTH_MM = (25.0, 40.0)  # across the surface: sulci bend slowly with depth
_SULCAL_DEPTH_MM = (12.0, 22.0)  # mean depth of the clefts below the surface, per subject
_THICKNESS_MM = (2.3, 3.1)  # mean cortical thickness per subject
_THICKNESS_VARIATION = 0.25  # relative sd of the thickness over the cortex
_RIM_MM = (0.5, 2.0)  # subarachnoid CSF rim kept by skull stripping (grows with atrophy)
_SULCAL_HALFWIDTH_MM = (0.45, 1.1)  # half the CSF width of a sulcus (grows with atrophy)
_N_WAVES = 24  # plane waves per band-limited field
_REF_RADIUS_MM = 75.0  # arc length along the surface is measured at this radius


@dataclass(frozen=True)
class Folding:
    """One subject's folding: wave vectors/phases of its random fields and its scalar draws."""

    sulcal: tuple[np.ndarray, np.ndarray]  # ((N, 3) wave vectors in rad/mm, (N,) phases)
    depth: tuple[np.ndarray, np.ndarray]
    thickness: tuple[np.ndarray, np.ndarray]
    mean_depth_mm: float
    mean_thickness_mm: float
    rim_mm: float
    halfwidth_mm: float


def waves(
    rng: np.random.Generator, wavelengths: tuple[float, float, float], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """n plane waves of a Gaussian band-limited field; wavelengths per (arc, radius, height) axis."""
    k = 2 * np.pi / np.asarray(wavelengths)
    # The first axis carries the band (|k_0| within +-25 % of its centre, either sign); the others
    # are Gaussian around 0 with their own scale: an anisotropic band-limited spectrum.
    vectors = rng.standard_normal((n, 3)) * k
    vectors[:, 0] = rng.choice([-1.0, 1.0], n) * rng.uniform(0.75, 1.25, n) * k[0]
    return vectors, rng.uniform(0, 2 * np.pi, n)


def draw_folding(rng: np.random.Generator, atrophy: float) -> Folding:
    """Draw one subject's folding; ``atrophy`` in [0, 1] widens the rim and the sulci."""
    along = rng.uniform(*_SULCAL_WAVELENGTH_MM)
    across = rng.uniform(*_RADIAL_WAVELENGTH_MM)
    lerp = lambda r: r[0] + (r[1] - r[0]) * atrophy  # noqa: E731
    return Folding(
        sulcal=waves(rng, (along, across, along), _N_WAVES),
        depth=waves(rng, (30.0, 30.0, 30.0), 12),
        thickness=waves(rng, (40.0, 40.0, 40.0), 8),
        mean_depth_mm=float(rng.uniform(*_SULCAL_DEPTH_MM)),
        mean_thickness_mm=float(rng.uniform(*_THICKNESS_MM)),
        rim_mm=float(lerp(_RIM_MM) * rng.uniform(0.85, 1.15)),
        halfwidth_mm=float(lerp(_SULCAL_HALFWIDTH_MM) * rng.uniform(0.85, 1.15)),
    )


def field(
    waves: tuple[np.ndarray, np.ndarray], coords: np.ndarray, inside: np.ndarray
) -> np.ndarray:
    """Unit-variance field sqrt(2/N) sum cos(k . x + phi) at coords (3, M), evaluated where
    ``inside`` (M,) is true (0 elsewhere: the field's mean); returns (M,) float64."""
    vectors, phases = waves
    arg = (vectors @ coords[:, inside] + phases[:, None]).astype(np.float32)
    out = np.zeros(coords.shape[1])
    out[inside] = np.sqrt(2.0 / len(phases)) * np.cos(arg).sum(axis=0, dtype=np.float64)
    return out


def _polar(mm: np.ndarray) -> np.ndarray:
    """(3, M) RAS mm -> (arc length at the reference radius, radius, height) in the axial plane."""
    x, y, z = mm
    return np.stack([_REF_RADIUS_MM * np.arctan2(y, x), np.hypot(x, y), z])


def fold_slice(
    folding: Folding,
    mm: np.ndarray,
    mask: np.ndarray,
    gm: np.ndarray,
    wm: np.ndarray,
    voxel_mm: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Carve the subject's folding into one resampled axial slice of the template maps.

    ``mm``: (3, H*W) anatomical coordinates of the pixels (subject space, mm, brain centre at 0);
    ``mask``, ``gm``, ``wm``: (H, W) resampled template maps (gm + wm <= mask); ``voxel_mm``: pixel
    size. Returns (csf, gm, wm) of the folded slice, each (H, W) float64 in [0, 1], summing to
    ``mask`` wherever the brain is (the outline is unchanged).
    """
    shape = mask.shape
    brain = mask >= 0.5
    if not brain.any():
        return mask - gm - wm, gm, wm
    inside = brain.ravel()
    polar = _polar(mm)
    depth = ndimage.distance_transform_edt(brain) * voxel_mm  # 2-D distance to the outline
    sulcal_depth = folding.mean_depth_mm * np.clip(
        1.0 + 0.45 * field(folding.depth, mm, inside), 0.2, None
    ).reshape(shape)
    # The field's gradient is ~|k| / sqrt(3) per unit: a cleft |f| < |k| w has half-width ~w mm.
    f = field(folding.sulcal, polar, inside).reshape(shape)
    k_along = np.sqrt(np.mean(folding.sulcal[0][:, 0] ** 2))
    width = folding.halfwidth_mm * k_along * 1.2
    taper = np.clip((sulcal_depth - depth) / 3.0, 0.0, 1.0)  # clefts narrow towards their fundus
    cleft = np.clip(1.5 - np.abs(f) / (width * np.maximum(taper, 1e-3)), 0.0, 1.0) * (taper > 0)
    rim = np.clip((folding.rim_mm - depth) / voxel_mm + 0.5, 0.0, 1.0)
    csf_new = np.maximum(cleft, rim)
    # Cortical ribbon: grey matter within the local thickness of CSF (outline, cleft, template CSF
    # near the surface), white matter deeper. Only the outer cortex is rebuilt; deep nuclei and the
    # ventricles keep the template's tissue.
    template_csf = mask - gm - wm
    near = depth < sulcal_depth + 8.0
    csf_like = (csf_new > 0.5) | ~brain | ((template_csf > 0.5) & near)
    dist = ndimage.distance_transform_edt(~csf_like) * voxel_mm
    thickness = folding.mean_thickness_mm * (
        1.0 + _THICKNESS_VARIATION * field(folding.thickness, mm, inside).reshape(shape)
    )
    ribbon = np.clip((thickness - dist) / voxel_mm + 0.5, 0.0, 1.0)
    # blend weight of the rebuilt cortex: 1 near the surface, 0 beyond the deepest sulci
    outer = np.clip((sulcal_depth + thickness + 2.0 - depth) / 4.0, 0.0, 1.0)
    parenchyma = np.clip(mask - np.maximum(template_csf, csf_new), 0.0, None)
    gm_new = parenchyma * ribbon
    wm_new = parenchyma - gm_new
    csf_out = mask - gm_new - wm_new
    gm_out = outer * gm_new + (1 - outer) * gm
    wm_out = outer * wm_new + (1 - outer) * wm
    csf_out = outer * csf_out + (1 - outer) * template_csf
    return np.clip(csf_out, 0, 1), gm_out, wm_out
