"""Embedded synthetic T2-like brain MRI population, generated offline from the ICBM152 template.

nilearn ships the ICBM152 2009a (1 mm, 197x233x189, RAS) skull-stripped T1 template together with
its grey- and white-matter probability maps inside its wheel, so a population of distinct brains can
be rendered without any download:

* tissue maps (``data/template.py``): nilearn's ``load_mni152_brain_mask`` (T1 > 0.2),
  Gaussian-smoothed (1 mm) for a smooth outline; GM and WM restricted to the mask, their split sharpened (the template is an
  average, so its GM/WM boundary is blurred); CSF = mask - GM - WM >= 0; the maps are low-passed
  before sampling when the output voxel is coarser than 1 mm (anti-aliasing);
* per subject, its own anatomy: cortical folding (CSF-filled sulci), a cortical ribbon of variable
  thickness and a CSF rim (``data/cortex.py``), ventricles enlarged by a smooth radial map, all
  scaled by one atrophy draw (older: wider rim and sulci, larger ventricles);
* a skull-stripped outline: most of the smoothed mask's fade at the brain's edge is filled with
  CSF (``_OUTLINE_FILL``), so the brain ends in a step to 0 as a binary stripping mask leaves it;
* T2-like contrast: intensity = sum over tissues of fraction x tissue intensity, with CSF ~0.68,
  GM ~0.44, WM ~0.27 (GM/WM as a T2 spin echo at TE ~110 ms gives; CSF and the rest calibrated
  against the paper's Exp 1 grid and histogram, docs/synthetic.md), each jittered per subject;
  white matter varies regionally (a smooth log-normal texture), and a receive-coil shading darkens
  the brain's centre;
* per subject (``data/subject_draws.py``): a random affine (rotation, anisotropic scaling,
  translation), a smooth elastic displacement (cubic B-spline), a smooth multiplicative bias field and Rician noise;
* output: a ``size``^3 cube in RAS orientation (axis 2 = inferior -> superior, ``volume[:, :, k]``
  is an axial slice), background exactly 0, foreground in (0, 1], brain mask = ``volume > 0``.

Every output voxel is mapped back to template space with one combined (affine + elastic) coordinate
transform and sampled with ``scipy.ndimage.map_coordinates``; rendering is done slice by slice, with
every per-voxel quantity (coordinates, bias, shading, texture, noise) a function of that slice alone, so a slab render
is bit-identical to the same slices of a full render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from scipy import ndimage

from residual_pitfalls.data.cortex import field, fold_slice
from residual_pitfalls.data.subject_draws import _BIAS_CONTROL, _COIL_WIDTH_MM, _ELASTIC_CONTROL
from residual_pitfalls.data.subject_draws import Subject as _Subject
from residual_pitfalls.data.subject_draws import draw_subject as _draw_subject
from residual_pitfalls.data.template import Template as _Template
from residual_pitfalls.data.template import template as _template

__all__ = ["coil_shading", "synthetic_volume", "tissue_signal", "wm_texture"]

# Field of view of the output cube, in template millimetres. With 208 mm the centre axial slice
# (template z ~ +14 mm) has ~46 % brain pixels, i.e. ~30 k of 256^2 as in the MOOD test set
# (SPEC.md 6.2: ~9.7 M foreground pixels over 320 centre slices), and the brain spans ~87 % of the
# field of view antero-posteriorly (MOOD: 256 x ~0.7 mm, brain fills most of it).
_FOV_MM = 208.0
# Template point (RAS mm) at the centre of the output cube: mid-sagittal, mid-AP of the brain,
# and at the level of the lateral ventricles' bodies so that slice size // 2 cuts through them.
_CENTRE_MM = np.array([0.0, -17.0, 14.0])

# Ventricular region (template RAS mm): centre and Gaussian extent of the magnification bump.
_VENTRICLE_CENTRE_MM = np.array([0.0, -12.0, 14.0])
_VENTRICLE_EXTENT_MM = np.array([14.0, 28.0, 14.0])
_FOREGROUND_THRESHOLD = 0.2  # resampled mask value at which a voxel counts as brain
# Skull stripping applies a *binary* mask, so the voxels at the outline keep (most of) their CSF
# signal instead of fading with the smoothed template mask: this share of the outline's partial-volume
# deficit (1 - mask) is filled with CSF. Not 1: the outermost voxels also hold dura and bone, dark in T2.
# Calibrated (docs/synthetic.md): the crisp outline is where MOOD's Exp 1 blind band at sigma ~1 comes from.
_OUTLINE_FILL = 0.8
_MIN_FOREGROUND = 1e-4  # guard: foreground voxels never reach exact 0


def _bspline_basis(size: int, n_control: int) -> np.ndarray:
    """Uniform cubic B-spline basis over the output grid.

    Returns (size, n_control) float64 in [0, 1]; each row sums to 1 (partition of unity), so the
    spline is a convex combination of its coefficients and stays within their range.
    """
    # Map voxel 0..size-1 onto [1, n_control - 2], where every point sees 4 full control points.
    u = 1.0 + np.arange(size) * (n_control - 3) / max(size - 1, 1)
    t = np.abs(u[:, None] - np.arange(n_control)[None, :])
    near = t < 1.0
    far = (t >= 1.0) & (t < 2.0)
    out = np.zeros_like(t)
    out[near] = 2.0 / 3.0 - t[near] ** 2 + 0.5 * t[near] ** 3
    out[far] = (2.0 - t[far]) ** 3 / 6.0
    return out


def _slice_spline(
    coeffs: np.ndarray, bx: np.ndarray, by: np.ndarray, bz_k: np.ndarray
) -> np.ndarray:
    """Evaluate a tensor-product spline on one axial slice.

    ``coeffs`` (C, C, C), ``bx``/``by`` (size, C), ``bz_k`` (C,) -> (size, size) float64.
    """
    plane = np.tensordot(coeffs, bz_k, axes=([2], [0]))  # (C, C)
    return bx @ plane @ by.T


def _check_arguments(
    subject: int, seed: int, size: int, slab: tuple[int, int] | None, target_mean: float | None
) -> tuple[int, int]:
    """Check the arguments of :func:`synthetic_volume`; return the slab as (lo, hi)."""

    def is_int(x: object) -> bool:
        return isinstance(x, Integral) and not isinstance(x, bool)

    if not is_int(subject) or subject < 0:
        raise ValueError(f"subject must be an integer >= 0, got {subject!r}")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not is_int(size) or size < 16:
        raise ValueError(f"size must be an integer >= 16, got {size!r}")
    if slab is None:
        lo, hi = 0, int(size)
    else:
        if not isinstance(slab, tuple | list) or len(slab) != 2 or not all(is_int(v) for v in slab):
            raise ValueError(f"slab must be a tuple (lo, hi) of two integers, got {slab!r}")
        lo, hi = int(slab[0]), int(slab[1])
        if not 0 <= lo < hi <= size:
            raise ValueError(f"slab must satisfy 0 <= lo < hi <= size={size}, got {slab!r}")
    if target_mean is not None and (
        not isinstance(target_mean, Real)
        or isinstance(target_mean, bool)
        or not 0.0 < float(target_mean) < 1.0
    ):
        raise ValueError(f"target_mean must be a float in (0, 1) or None, got {target_mean!r}")
    return lo, hi


def _render_slab(subject: int, seed: int, size: int, lo: int, hi: int) -> np.ndarray:
    """(size, size, size) float32 volume with axial slices lo..hi-1 rendered, the rest 0."""
    tpl = _template(_FOV_MM / size)
    subj = _draw_subject(int(seed), int(subject))
    geo = _geometry(subj, tpl, size)
    volume = np.zeros((size, size, size), dtype=np.float32)
    for k in range(lo, hi):
        brain, csf, gm, wm = _tissue_slice(subj, tpl, geo, k)
        clean = _contrast_slice(subj, geo, k, brain, (csf, gm, wm))
        noise_rng = np.random.default_rng(
            np.random.SeedSequence(subj.noise_seed.entropy, spawn_key=(k,))
        )
        n_re, n_im = subj.noise_sd * noise_rng.standard_normal((2, size, size))
        noisy = np.sqrt((clean + n_re) ** 2 + n_im**2)  # Rician magnitude
        volume[:, :, k] = np.where(brain, np.clip(noisy, _MIN_FOREGROUND, 1.0), 0.0)
    return volume


def _calibration_scale(values: np.ndarray, target: float) -> float:
    """Scale s > 0 such that mean(min(s * values, 1)) == target.

    ``values``: (n,) float64 > 0, ``target`` in (0, 1). The clipped mean is continuous, piecewise
    linear and increasing in s, so the exact solution is found from the sorted values: if the m
    smallest values stay below 1 after scaling, s = (n * target - (n - m)) / sum(smallest m).
    """
    x = np.sort(values.astype(np.float64))
    n = x.size
    prefix = np.concatenate([[0.0], np.cumsum(x)])  # prefix[m] = sum of the m smallest
    m = np.arange(1, n + 1)  # m = 0 would mean every value is clipped: mean 1 > target
    s = (n * target - (n - m)) / prefix[m]
    upper = np.append(x[1:], np.inf)  # value just above the m-th smallest
    tol = 1e-12  # breakpoints hit exactly must not fall between two rounded neighbours
    valid = (s > 0) & (s * x[m - 1] <= 1.0 + tol) & (s * upper >= 1.0 - tol)
    return float(s[np.flatnonzero(valid)[0]])


@dataclass(frozen=True)
class _Geometry:
    """Everything needed to map any axial output slice of one subject to template voxels."""

    size: int
    axis_mm: np.ndarray  # (size,) output mm of voxel centres along each axis, centred at 0
    plane_x: np.ndarray  # (size, size) output mm of axis 0 on an axial slice
    plane_y: np.ndarray  # (size, size) output mm of axis 1 on an axial slice
    basis_elastic: np.ndarray  # (size, C)
    basis_bias: np.ndarray  # (size, B)
    linear: np.ndarray  # (3, 3) displaced output mm -> template mm (linear part)
    origin: np.ndarray  # (3,) template mm of the output centre
    inv_affine: np.ndarray  # (4, 4) template mm -> template voxel


def _geometry(subj: _Subject, tpl: _Template, size: int) -> _Geometry:
    """The subject's affine and the template's inverse affine, ready for per-slice sampling."""
    axis_mm = (np.arange(size) - (size - 1) / 2.0) * (_FOV_MM / size)
    plane_x, plane_y = np.meshgrid(axis_mm, axis_mm, indexing="ij")
    return _Geometry(
        size=size,
        axis_mm=axis_mm,
        plane_x=plane_x,
        plane_y=plane_y,
        basis_elastic=_bspline_basis(size, _ELASTIC_CONTROL),
        basis_bias=_bspline_basis(size, _BIAS_CONTROL),
        linear=subj.linear,
        origin=_CENTRE_MM + subj.translation,
        inv_affine=np.linalg.inv(tpl.affine),
    )


def _magnify_ventricles(q: np.ndarray, amount: float) -> np.ndarray:
    """Pull template mm ``q`` (3, M) towards the ventricles' centre: they look larger by ~amount.

    A smooth radial map q' = c + (q - c)(1 - a g(q)), g a Gaussian bump over the ventricular
    region, a = amount / (1 + amount); it is the identity far from the ventricles.
    """
    rel = q - _VENTRICLE_CENTRE_MM[:, None]
    bump = np.exp(-0.5 * ((rel / _VENTRICLE_EXTENT_MM[:, None]) ** 2).sum(axis=0))
    return _VENTRICLE_CENTRE_MM[:, None] + rel * (1.0 - amount / (1.0 + amount) * bump)


def _tissue_slice(
    subj: _Subject, tpl: _Template, geo: _Geometry, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tissue maps of axial output slice k: (brain, csf, gm, wm), each (size, size).

    Output mm p maps to template mm q = centre + L (p + d(p)) + t (d: elastic displacement),
    then the ventricular magnification; the template maps are sampled there and the subject's
    folding (:func:`residual_pitfalls.data.cortex.fold_slice`) is carved in. ``brain`` is bool;
    csf + gm + wm is the partial-volume brain mask with most of its fade at the outline filled with
    CSF (``_OUTLINE_FILL``), and all three are 0 outside ``brain``.
    """
    b = geo.basis_elastic
    disp = [_slice_spline(subj.elastic[c], b, b, b[k]) for c in range(3)]
    p = np.stack([geo.plane_x + disp[0], geo.plane_y + disp[1], geo.axis_mm[k] + disp[2]])
    p = p.reshape(3, -1)
    q = _magnify_ventricles(geo.linear @ p + geo.origin[:, None], subj.ventricles)
    coords = geo.inv_affine[:3, :3] @ q + geo.inv_affine[:3, 3:]
    shape = (geo.size, geo.size)
    mask, gm, wm = (
        ndimage.map_coordinates(arr, coords, order=1, mode="constant", cval=0.0)
        .reshape(shape)
        .astype(np.float64)
        for arr in (tpl.mask, tpl.gm, tpl.wm)
    )
    brain = mask >= _FOREGROUND_THRESHOLD
    csf, gm, wm = fold_slice(subj.folding, p, mask, gm, wm, _FOV_MM / geo.size)
    csf = csf + _OUTLINE_FILL * (1.0 - mask)  # a crisp, stripped outline
    return brain, *(np.where(brain, t, 0.0) for t in (csf, gm, wm))


def _contrast_slice(
    subj: _Subject, geo: _Geometry, k: int, brain: np.ndarray, tissues: tuple[np.ndarray, ...]
) -> np.ndarray:
    """Noise-free T2 intensity of axial slice k from its (csf, gm, wm) fractions, (size, size).

    Tissue intensities (white matter times the subject's regional texture, exp(sd x unit field)),
    times the smooth bias field, times the receive-coil shading 1 - dip x exp(-r^2 / (2 w^2)) (r:
    output mm from the cube's centre, which is the brain's).
    """
    csf, gm, wm = tissues
    size = geo.size
    coords = np.stack(
        [geo.plane_x.ravel(), geo.plane_y.ravel(), np.full(size * size, geo.axis_mm[k])]
    )
    texture = wm_texture(subj.wm_texture, subj.wm_texture_sd, coords, brain.ravel())
    clean = tissue_signal((csf, gm, wm), subj.intensities, texture.reshape(size, size))
    b = geo.basis_bias
    clean *= 1.0 + _slice_spline(subj.bias, b, b, b[k])
    r2 = geo.plane_x**2 + geo.plane_y**2 + geo.axis_mm[k] ** 2
    clean *= coil_shading(r2, subj.coil_dip)
    return clean


# The T2 contrast shared with data/brainweb.py, which renders BrainWeb's tissue models with it.
def wm_texture(
    waves: tuple[np.ndarray, np.ndarray], sd: float, coords: np.ndarray, inside: np.ndarray
) -> np.ndarray:
    """Regional white-matter factor exp(sd x unit field) at coords (3, M); 1 outside ``inside``."""
    return np.exp(sd * field(waves, coords, inside))


def tissue_signal(
    tissues: tuple[np.ndarray, ...], intensities: dict[str, float], wm_factor: np.ndarray
) -> np.ndarray:
    """i_csf x csf + i_gm x gm + i_wm x wm x wm_factor, from the (csf, gm, wm) fractions."""
    csf, gm, wm = tissues
    return intensities["csf"] * csf + intensities["gm"] * gm + intensities["wm"] * wm * wm_factor


def coil_shading(r2_mm2: np.ndarray, dip: float) -> np.ndarray:
    """Receive-coil shading 1 - dip x exp(-r^2 / (2 w^2)), r in mm from the brain's centre."""
    return 1.0 - dip * np.exp(-0.5 * r2_mm2 / _COIL_WIDTH_MM**2)


# Over ~60 lines only by its signature and docstring: the code itself is under 60 lines.
def synthetic_volume(
    subject: int,
    *,
    seed: int,
    size: int,
    slab: tuple[int, int] | None = None,
    target_mean: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one synthetic T2-like brain volume.

    Args:
        subject: subject index >= 0; (seed, subject) fully determines the volume.
        seed: data-set seed >= 0; the subject's randomness is ``np.random.default_rng([seed,
            subject])`` (noise of axial slice k: child seed sequence ``spawn_key=(k,)`` of it).
        size: edge length >= 16 of the output cube (256: the paper's geometry).
        slab: ``(lo, hi)`` with ``0 <= lo < hi <= size``: render only the axial slices
            ``volume[:, :, lo:hi]``; all other voxels are 0. None renders the full cube. The
            rendered slices are bit-identical to those of a full render.
        target_mean: if given, in (0, 1): rescale the foreground multiplicatively (then clip to
            (0, 1]) so that the mean of the brain voxels of the rendered slab equals it.

    Returns:
        volume: (size, size, size) float32 in [0, 1], RAS axes (axis 2 inferior -> superior, so
            ``volume[:, :, k]`` is axial slice k); background exactly 0, brain voxels in (0, 1].
            The centre slice ``size // 2`` cuts through the lateral ventricles.
        affine: (4, 4) float64 voxel -> mm for a NIfTI header: isotropic voxels of
            208 / size template millimetres, RAS, origin at the centre of the cube.

    Raises:
        ValueError: on an invalid argument, or when target_mean is given and the slab contains no
            brain voxel.
    """
    from threadpoolctl import threadpool_limits

    lo, hi = _check_arguments(subject, seed, size, slab, target_mean)
    # The per-slice matrix products are tiny: a multi-threaded BLAS spends 2-3x the CPU time on them
    # (measured on 2 cores with another job running) for bit-identical results.
    with threadpool_limits(limits=1, user_api="blas"):
        volume = _render_slab(subject, seed, size, lo, hi)

    if target_mean is not None:
        rendered = volume[:, :, lo:hi]
        fg = rendered > 0
        if not fg.any():
            raise ValueError(
                f"target_mean={target_mean!r} cannot be met: slab {(lo, hi)} of subject "
                f"{subject} (seed {seed}, size {size}) contains no brain voxel"
            )
        scale = _calibration_scale(rendered[fg], float(target_mean))
        rendered[fg] = np.clip(rendered[fg].astype(np.float64) * scale, _MIN_FOREGROUND, 1.0)

    voxel_mm = _FOV_MM / size
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    affine[:3, 3] = -(size - 1) / 2.0 * voxel_mm
    return volume, affine


def _write_one(
    path: Path,
    subject: int,
    seed: int,
    size: int,
    slab: tuple[int, int] | None,
    target_mean: float | None,
) -> None:
    import nibabel as nib

    volume, affine = synthetic_volume(
        subject, seed=seed, size=size, slab=slab, target_mean=target_mean
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(volume, affine), str(path))


def write_synthetic_volumes(
    paths: Sequence[Path],
    *,
    seed: int,
    size: int,
    slab: tuple[int, int] | None = None,
    target_mean: float | None = None,
    workers: int = 1,
    progress: bool = True,
) -> None:
    """Render subject i of the population into paths[i] as a NIfTI volume (float32, RAS affine)."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    jobs = [(Path(p), i, seed, size, slab, target_mean) for i, p in enumerate(paths)]
    bar = tqdm(total=len(jobs), desc="synthetic brains", unit="volume", disable=not progress)
    if workers <= 1:
        for job in jobs:
            _write_one(*job)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(_write_one, *zip(*jobs, strict=True)):
                bar.update()
    bar.close()
