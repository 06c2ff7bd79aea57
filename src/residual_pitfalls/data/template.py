"""The ICBM152 2009a tissue maps behind the embedded synthetic brains (:mod:`.synthetic`).

nilearn ships the ICBM152 2009a (1 mm, 197x233x189, RAS) skull-stripped T1 template together with
its grey- and white-matter probability maps inside its wheel, so no download is needed. The maps are
loaded once per process, sharpened (the template is an average, so its GM/WM boundary is blurred),
and low-passed before sampling when the output voxel is coarser than 1 mm (anti-aliasing).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Template", "raw_template", "template"]

_SHARPEN = 2.0  # exponent applied to the template tissue probabilities
_MASK_SMOOTH_MM = 1.0  # Gaussian sd (template voxels = mm) that smooths the binary brain mask


@dataclass(frozen=True)
class Template:
    """Tissue maps of the ICBM152 2009a template, ready for resampling.

    ``mask``, ``gm``, ``wm``: (197, 233, 189) float32 in [0, 1], read-only, with gm + wm <= mask
    (so CSF = mask - gm - wm >= 0). ``affine``: (4, 4) float64, template voxel -> RAS mm.
    """

    mask: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    affine: np.ndarray


@functools.lru_cache(maxsize=1)
def raw_template() -> Template:
    """Load (once per process) the template tissue maps that ship with nilearn; no download."""
    from nilearn import datasets  # heavy import, only when a volume is actually rendered

    mask_img = datasets.load_mni152_brain_mask()
    binary = np.asarray(mask_img.get_fdata(), dtype=np.float32)
    gm = np.asarray(datasets.load_mni152_gm_template().get_fdata(), dtype=np.float32) * binary
    wm = np.asarray(datasets.load_mni152_wm_template().get_fdata(), dtype=np.float32) * binary
    # The template is an average of many brains, so its GM/WM boundary is blurred; raising the
    # two probabilities to a power and renormalising restores the crisp boundary of one brain.
    # CSF is left as it is: sharpening it would erase the thin, faint sulci that make T2 look T2.
    gm_s, wm_s = gm**_SHARPEN, wm**_SHARPEN
    total = gm_s + wm_s
    share = np.divide(gm_s, total, out=np.zeros_like(total), where=total > 0)
    parenchyma = gm + wm
    gm, wm = parenchyma * share, parenchyma * (1.0 - share)
    # A smoothed mask gives a smooth sub-voxel brain outline with a partial-volume rim; taking the
    # maximum with GM + WM keeps CSF = mask - GM - WM >= 0, so the contrast stays a linear
    # function of three resampled maps.
    smooth = ndimage.gaussian_filter(binary, _MASK_SMOOTH_MM).astype(np.float32)
    mask = np.maximum(smooth, parenchyma)
    for arr in (mask, gm, wm):
        arr.setflags(write=False)
    return Template(mask=mask, gm=gm, wm=wm, affine=np.asarray(mask_img.affine, dtype=np.float64))


@functools.lru_cache(maxsize=2)
def template(voxel_mm: float) -> Template:
    """Template maps low-passed for sampling at ``voxel_mm`` output voxels.

    Point sampling a 1 mm template on a coarser grid would alias (jagged cortex at size 128 and
    below); a Gaussian of sd (step - 1) / 2 template voxels, as skimage's anti-aliasing uses,
    avoids it. Smoothing is linear and positive, so gm + wm <= mask still holds.
    """
    raw = raw_template()
    template_mm = np.linalg.norm(raw.affine[:3, :3], axis=0)  # (3,) template voxel size
    sigma = np.maximum(0.0, (voxel_mm / template_mm - 1.0) / 2.0)
    if not np.any(sigma > 0):
        return raw
    maps = []
    for arr in (raw.mask, raw.gm, raw.wm):
        out = ndimage.gaussian_filter(arr, sigma).astype(np.float32)
        out.setflags(write=False)
        maps.append(out)
    return Template(*maps, affine=raw.affine)
