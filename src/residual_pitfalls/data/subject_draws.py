"""Per-subject random draws of the embedded synthetic brains (:mod:`.synthetic`).

Tissue intensities, pose (rotation, anisotropic scaling, translation), a smooth elastic displacement,
a bias field, the noise level and seed, the ventricles' enlargement and the cortical folding of one
subject, all drawn from ``np.random.default_rng([seed, subject])``. docs/synthetic.md gives a source for
every range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from residual_pitfalls.data.cortex import Folding, draw_folding, waves

__all__ = ["Subject", "draw_subject", "rotation"]

_TISSUE_INTENSITY = {"csf": 0.68, "gm": 0.44, "wm": 0.27}
_TISSUE_JITTER = 0.03  # relative sd of each tissue's intensity per subject
_MAX_ROTATION_DEG = 4.0
_MAX_SCALE = 0.05
_MAX_TRANSLATION_MM = 4.0
_ELASTIC_CONTROL = 9  # B-spline control points per axis: 6 spans over the 208 mm FOV, ~35 mm apart
_ELASTIC_SD_MM = 4.0  # sd of each control-point displacement component
_BIAS_CONTROL = 5  # control points per axis for the bias field (3 spans: very low frequency)
_BIAS_AMPLITUDE = 0.10  # bias field lies in [1 - a, 1 + a]
_NOISE_SD_RANGE = (0.012, 0.022)  # Rician noise sd, drawn per subject
_ATROPHY_BETA = (1.2, 5.0)  # atrophy ~ Beta(a, b) in [0, 1]
_VENTRICLE_RANGE = (0.0, 0.45)  # magnification from young to old
_WM_TEXTURE_SD = (0.10, 0.18)  # sd of the log white-matter intensity over the brain, per subject
_WM_TEXTURE_WAVELENGTH_MM = 30.0  # scale of the regional white-matter variation
_COIL_DIP = (0.45, 0.60)  # receive-coil shading: relative signal loss at the brain's centre
_COIL_WIDTH_MM = 24.0  # Gaussian sd of the central shading


@dataclass(frozen=True)
class Subject:
    """Random draws that define one subject (all in output/template millimetres)."""

    intensities: dict[str, float]
    linear: np.ndarray  # (3, 3) output mm -> template mm (rotation @ scaling)
    translation: np.ndarray  # (3,) mm
    elastic: np.ndarray  # (3, C, C, C) B-spline coefficients of the displacement, mm
    bias: np.ndarray  # (B, B, B) B-spline coefficients of the bias field, in [-a, a]
    noise_sd: float
    noise_seed: np.random.SeedSequence
    ventricles: float  # relative magnification of the ventricular region (age: enlargement)
    folding: Folding
    wm_texture: tuple[np.ndarray, np.ndarray]  # waves of the regional white-matter field
    wm_texture_sd: float
    coil_dip: float


def rotation(angles_rad: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix: rotations about x, y, z (radians), composed as Rz @ Ry @ Rx."""
    cx, cy, cz = np.cos(angles_rad)
    sx, sy, sz = np.sin(angles_rad)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def draw_subject(seed: int, subject: int) -> Subject:
    """Draw all random parameters of one subject from ``np.random.default_rng([seed, subject])``."""
    rng = np.random.default_rng([seed, subject])
    jitter = 1.0 + _TISSUE_JITTER * rng.standard_normal(3)
    intensities = {k: v * j for (k, v), j in zip(_TISSUE_INTENSITY.items(), jitter, strict=True)}
    angles = np.deg2rad(rng.uniform(-_MAX_ROTATION_DEG, _MAX_ROTATION_DEG, 3))
    scales = rng.uniform(1.0 - _MAX_SCALE, 1.0 + _MAX_SCALE, 3)
    translation = rng.uniform(-_MAX_TRANSLATION_MM, _MAX_TRANSLATION_MM, 3)
    elastic = _ELASTIC_SD_MM * rng.standard_normal((3,) + (_ELASTIC_CONTROL,) * 3)
    bias = rng.uniform(-_BIAS_AMPLITUDE, _BIAS_AMPLITUDE, (_BIAS_CONTROL,) * 3)
    noise_sd = float(rng.uniform(*_NOISE_SD_RANGE))
    # Noise of slice k comes from the child stream spawn_key=(k,) of this subject's seed sequence,
    # so any slab draws exactly the noise that a full render draws for the same slices.
    noise_seed = rng.bit_generator.seed_seq
    atrophy = float(
        rng.beta(*_ATROPHY_BETA)
    )  # 0: young adult, 1: old (rim, sulci, ventricles widen)
    ventricles = float(_VENTRICLE_RANGE[0] + np.ptp(_VENTRICLE_RANGE) * atrophy)
    ventricles += float(rng.normal(0.0, 0.05))
    return Subject(
        intensities=intensities,
        linear=rotation(angles) @ np.diag(scales),
        translation=translation,
        elastic=elastic,
        bias=bias,
        noise_sd=noise_sd,
        noise_seed=noise_seed,
        ventricles=ventricles,
        folding=draw_folding(rng, atrophy),
        wm_texture=waves(rng, (_WM_TEXTURE_WAVELENGTH_MM,) * 3, 16),
        wm_texture_sd=float(rng.uniform(*_WM_TEXTURE_SD)),
        coil_dip=float(rng.uniform(*_COIL_DIP)),
    )
