"""Random smooth deformations: more subjects from a few real ones (BrainWeb's ``augment: N``).

A deformation is a pull-back map: the output point ``p`` (mm, centred on the field of view) shows
the source anatomy at

    q = s R p + t + d(p),

* ``R`` a rotation by angles drawn uniformly in +-``rotation_deg`` about each axis, ``s`` an
  isotropic scale in 1 +- ``scale`` and ``t`` a shift in +-``shift_mm`` per axis: the small pose
  differences that scans rigidly aligned to one template still show;
* ``d`` a smooth displacement: random vectors on a coarse control grid ``spacing_mm`` apart (each
  component normal with sd ``amplitude_mm``), interpolated between the nodes by cubic B-splines,
  so the field is smooth at the scale of gyri and ventricles and never folds at the defaults
  (``tests/test_brainweb_augment.py`` checks the Jacobian determinant stays positive).

Every random number is drawn when the warp is made (:func:`random_warp`), from the generator the
caller passes in, so a warp is fixed by that generator's seed whatever points it is evaluated at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from residual_pitfalls.data.subject_draws import rotation

__all__ = ["Warp", "WarpSettings", "random_warp"]


@dataclass(frozen=True)
class WarpSettings:
    """Ranges of a random deformation (mm, degrees, relative scale)."""

    amplitude_mm: float = 2.0
    spacing_mm: float = 40.0
    rotation_deg: float = 3.0
    scale: float = 0.04
    shift_mm: float = 2.0


@dataclass(frozen=True)
class Warp:
    """One drawn deformation: ``warp(points)`` maps (3, n) points in mm to the source's points."""

    linear: np.ndarray  # (3, 3): s R
    shift: np.ndarray  # (3,)
    control: np.ndarray  # (3, m, m, m) displacement (mm) at the control nodes
    origin_mm: float  # position of node 0 on each axis
    spacing_mm: float

    def displacement(self, points: np.ndarray) -> np.ndarray:
        """The smooth part d(p) at (3, n) points (mm); constant beyond the control grid."""
        nodes = (np.asarray(points, dtype=np.float64) - self.origin_mm) / self.spacing_mm
        return np.stack(
            [
                ndimage.map_coordinates(component, nodes, order=3, mode="nearest")
                for component in self.control
            ]
        )

    def __call__(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        return self.linear @ points + self.shift[:, None] + self.displacement(points)


def random_warp(
    rng: np.random.Generator, extent_mm: float, settings: WarpSettings = WarpSettings()
) -> Warp:
    """Draw a deformation of a cube ``extent_mm`` wide (centred on 0) from ``rng``."""
    if extent_mm <= 0 or settings.spacing_mm <= 0 or settings.amplitude_mm < 0:
        raise ValueError(
            f"random_warp: extent and spacing must be > 0, got {extent_mm}, {settings}"
        )
    angles = np.deg2rad(rng.uniform(-settings.rotation_deg, settings.rotation_deg, 3))
    scale = 1.0 + rng.uniform(-settings.scale, settings.scale)
    shift = rng.uniform(-settings.shift_mm, settings.shift_mm, 3)
    # one node beyond the cube on each side, and one more: a cubic B-spline's support is 4 nodes
    nodes = math.ceil(extent_mm / settings.spacing_mm) + 3
    control = rng.normal(0.0, settings.amplitude_mm, (3, nodes, nodes, nodes))
    return Warp(
        linear=scale * rotation(angles),
        shift=shift,
        control=control,
        origin_mm=-(nodes - 1) * settings.spacing_mm / 2.0,
        spacing_mm=settings.spacing_mm,
    )
