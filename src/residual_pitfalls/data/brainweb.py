"""BrainWeb's 20 normal anatomical models as T2-weighted volumes: real anatomy without MOOD access.

BrainWeb (Aubert-Broche et al. 2006, https://brainweb.bic.mni.mcgill.ca/) publishes 20 normal
brains as crisp tissue models: one unsigned byte per 0.5 mm voxel (label 0 background, 1 CSF,
2 grey matter, 3 white matter, 4-11 fat, muscle, skin, skull, vessels, dura, marrow), 362 x 434 x
362 voxels (x fastest: left -> right, then posterior -> anterior, then inferior -> superior),
served gzipped per subject (56.9 MB raw; the gzipped size was not measured here). This module

* fetches the models (:func:`fetch_models`): one file per subject, each verified (SHA-256 when the
  caller gives one, and always the decompressed size) before it is kept; re-running skips the
  subjects already there (resumable per subject); bad input is a clear error naming the subject,
  the URL or the file;
* renders a T2-weighted volume from a model (:func:`t2_volume`): the brain (CSF, GM, WM labels)
  with the same tissue contrast, bias field and Rician noise as the embedded synthetic brains,
  resampled (with partial volume) to the same ``size``^3 cube and field of view, background 0;
* multiplies each subject into more (:func:`subject_volumes`, ``augment: N``): N copies per
  subject, each sampled through its own random smooth deformation
  (:mod:`residual_pitfalls.data.augment`) with its own contrast jitter, bias field and noise.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
from scipy import ndimage

from residual_pitfalls.data import subject_draws as draws
from residual_pitfalls.data import synthetic
from residual_pitfalls.data.augment import WarpSettings, random_warp
from residual_pitfalls.data.cortex import waves
from residual_pitfalls.data.download import DownloadError, download_file, sha256_of

__all__ = [
    "SHAPE",
    "SUBJECTS",
    "URL",
    "BrainWebError",
    "fetch_models",
    "read_model",
    "subject_volumes",
    "t2_volume",
    "write_volumes",
]

SUBJECTS = (4, 5, 6, 18, 20, 38, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54)
SHAPE = (362, 434, 362)  # (z, y, x) as stored: x varies fastest
VOXEL_MM = 0.5
URL = (
    "https://brainweb.bic.mni.mcgill.ca/cgi/brainweb1?do_download_alias=subject{subject:02d}_crisp"
    "&format_value=raw_byte&zip_value=gnuzip&download_for_real=%5BStart+download%21%5D"
)
_BRAIN_LABELS = {"csf": 1, "gm": 2, "wm": 3}


class BrainWebError(ValueError):
    """A BrainWeb model that is unknown, truncated or not in the expected raw format."""


def model_path(dest: Path, subject: int) -> Path:
    return Path(dest) / f"subject{subject:02d}_crisp.rawb.gz"


def _check_subject(subject: object) -> int:
    if isinstance(subject, bool) or not isinstance(subject, int) or subject not in SUBJECTS:
        known = ", ".join(f"{s:02d}" for s in SUBJECTS)
        raise BrainWebError(f"unknown BrainWeb subject id {subject!r}: BrainWeb has {known}")
    return subject


def read_model(path: Path, shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """The (x, y, z) uint8 label volume of a gzipped raw-byte model (RAS axis order)."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes())
    except (EOFError, OSError, zlib.error) as err:
        raise BrainWebError(f"{path}: truncated or not a gzip file ({err})") from err
    expected = int(np.prod(shape))
    if len(raw) != expected:
        raise BrainWebError(
            f"{path}: {len(raw)} bytes after decompression, expected {expected} "
            f"({' x '.join(map(str, shape))} raw bytes): truncated or not a BrainWeb crisp model"
        )
    labels = np.frombuffer(raw, dtype=np.uint8).reshape(shape)  # (z, y, x)
    return np.ascontiguousarray(labels.transpose(2, 1, 0))


def fetch_models(
    subjects: list[int],
    dest: Path,
    *,
    url: str = URL,
    sha256: dict[int, str] | None = None,
    shape: tuple[int, int, int] = SHAPE,
    progress: bool = True,
) -> list[Path]:
    """Download the crisp models of ``subjects`` into ``dest``; return their paths, in order.

    A model already in ``dest`` that passes the checks is not fetched again. A file that fails
    them (truncated, wrong checksum) is deleted and the error names it.
    """
    subjects = [_check_subject(s) for s in subjects]
    sha256 = {int(k): v for k, v in (sha256 or {}).items()}
    unknown = sorted(set(sha256) - set(SUBJECTS))
    if unknown:
        _check_subject(unknown[0])
    paths = []
    for subject in subjects:
        path = model_path(dest, subject)
        expected = sha256.get(subject)
        if path.is_file() and expected is not None and sha256_of(path) != expected.lower():
            path.unlink()  # a stale or damaged copy: fetch it again
        source = url.format(subject=subject)
        try:
            download_file(source, path, sha256=expected, progress=progress)
            read_model(path, shape)
        except BrainWebError as err:
            path.unlink(missing_ok=True)
            raise BrainWebError(f"BrainWeb subject {subject:02d} from {source}: {err}") from err
        except DownloadError as err:
            raise DownloadError(f"BrainWeb subject {subject:02d}: {err}") from err
        paths.append(path)
    return paths


def _grid_mm(size: int, fov_mm: float) -> np.ndarray:
    """(3, size^3) centres of the output voxels in mm, centred on 0 (x, y, z; x slowest)."""
    axis = (np.arange(size) - (size - 1) / 2.0) * (fov_mm / size)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij")).reshape(3, -1)


def _tissue_fractions(labels: np.ndarray, step_mm: float) -> list[np.ndarray]:
    """CSF, GM and WM fractions of a label volume, low-passed for sampling at ``step_mm``."""
    sigma = max(0.0, (step_mm / VOXEL_MM - 1.0) / 2.0)
    return [
        ndimage.gaussian_filter((labels == label).astype(np.float32), sigma)
        for label in _BRAIN_LABELS.values()
    ]


def _sample(fractions: list[np.ndarray], points_mm: np.ndarray) -> list[np.ndarray]:
    """The tissue fractions at (3, n) points in mm (centred on the model), 0 outside it."""
    centre = (np.asarray(fractions[0].shape) - 1) / 2.0
    coords = points_mm / VOXEL_MM + centre[:, None]
    return [
        ndimage.map_coordinates(f, coords, order=1, mode="constant", cval=0.0) for f in fractions
    ]


def _render(
    sampled: list[np.ndarray], rng: np.random.Generator, size: int, grid: np.ndarray
) -> np.ndarray:
    """T2 contrast as the synthetic brains' (per-tissue jitter, regional white-matter texture,
    receive-coil shading about the cube's centre), bias field and Rician noise, all drawn from
    ``rng``; ``grid``: (3, size^3) voxel centres in mm, centred on 0. Background exactly 0."""
    jitter = 1.0 + draws._TISSUE_JITTER * rng.standard_normal(3)
    intensities = {
        t: draws._TISSUE_INTENSITY[t] * j for t, j in zip(_BRAIN_LABELS, jitter, strict=True)
    }
    brain = sum(sampled) >= synthetic._FOREGROUND_THRESHOLD
    texture_sd = rng.uniform(*draws._WM_TEXTURE_SD)
    wave_set = waves(rng, (draws._WM_TEXTURE_WAVELENGTH_MM,) * 3, 16)
    texture = synthetic.wm_texture(wave_set, texture_sd, grid, brain)
    clean = synthetic.tissue_signal(sampled, intensities, texture)
    clean *= synthetic.coil_shading((grid**2).sum(axis=0), rng.uniform(*draws._COIL_DIP))
    brain = brain.reshape((size,) * 3)
    clean = clean.reshape((size,) * 3)
    bias = ndimage.zoom(rng.uniform(-1, 1, (3, 3, 3)), size / 3, order=1, mode="nearest")
    bias = 1.0 + draws._BIAS_AMPLITUDE * bias[:size, :size, :size]
    noise_sd = rng.uniform(*draws._NOISE_SD_RANGE)
    n_re, n_im = noise_sd * rng.standard_normal((2, size, size, size))
    noisy = np.sqrt((clean * bias + n_re) ** 2 + n_im**2)
    volume = np.where(brain, np.clip(noisy, synthetic._MIN_FOREGROUND, 1.0), 0.0)
    return volume.astype(np.float32)


def subject_volumes(
    labels: np.ndarray,
    *,
    seed: int,
    subject: int,
    size: int,
    copies: int = 0,
    fov_mm: float = 208.0,
    warp: WarpSettings | None = None,
) -> list[np.ndarray]:
    """The subject's T2 volume, then ``copies`` augmented copies of it (``size``^3 float32 each).

    The tissue fractions (CSF, GM, WM) are low-passed (anti-aliasing) and sampled on a cube of
    ``fov_mm`` centred on the model; contrast (white-matter texture and coil shading included), bias
    field and noise are the synthetic brains'.
    The real volume draws them from ``default_rng([seed, subject])``; copy ``k`` (1..copies) from
    ``default_rng([seed, subject, k])``: first a random smooth deformation
    (:func:`residual_pitfalls.data.augment.random_warp`, ranges ``warp``) of the sampling points,
    then its own contrast, bias field and noise. Background exactly 0 in every volume.
    """
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 0:
        raise ValueError(f"augment: expected an integer >= 0 copies per subject, got {copies!r}")
    grid = _grid_mm(size, fov_mm)
    fractions = _tissue_fractions(labels, fov_mm / size)
    volumes = [
        _render(_sample(fractions, grid), np.random.default_rng([seed, subject]), size, grid)
    ]
    for copy in range(1, copies + 1):
        rng = np.random.default_rng([seed, subject, copy])
        points = random_warp(rng, fov_mm, warp or WarpSettings())(grid)
        volumes.append(_render(_sample(fractions, points), rng, size, grid))
    return volumes


def t2_volume(
    labels: np.ndarray, *, seed: int, subject: int, size: int, fov_mm: float = 208.0
) -> np.ndarray:
    """A T2-weighted ``size``^3 float32 volume (RAS, background exactly 0) of a label volume
    (the real subject of :func:`subject_volumes`)."""
    return subject_volumes(labels, seed=seed, subject=subject, size=size, fov_mm=fov_mm)[0]


def write_volumes(
    paths: list[Path],
    subjects: list[int],
    *,
    models: Path,
    url: str | None,
    sha256: dict[int, str],
    seed: int,
    size: int,
    augment: int = 0,
    progress: bool = True,
) -> None:
    """Fetch the models of ``subjects`` into ``models`` and write their T2 volumes to ``paths``:
    for each subject in turn, its own volume, then its ``augment`` copies (``1 + augment`` paths
    per subject, as :func:`residual_pitfalls.layout.brainweb_volumes` lists them)."""
    import nibabel as nib
    from tqdm.auto import tqdm

    per = 1 + augment
    if len(paths) != per * len(subjects):
        raise ValueError(
            f"{len(paths)} output paths for {len(subjects)} BrainWeb subjects with augment "
            f"{augment}: expected {per * len(subjects)} (each subject, then its copies)"
        )
    files = fetch_models(subjects, models, url=url or URL, sha256=sha256, progress=progress)
    step = 208.0 / size
    affine = np.diag([step, step, step, 1.0])
    affine[:3, 3] = -(size - 1) / 2.0 * step
    for i, (subject, model) in enumerate(
        tqdm(list(zip(subjects, files, strict=True)), desc="BrainWeb T2", disable=not progress)
    ):
        volumes = subject_volumes(
            read_model(model), seed=seed, subject=subject, size=size, copies=augment
        )
        for path, volume in zip(paths[i * per : (i + 1) * per], volumes, strict=True):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(volume, affine), str(path))
