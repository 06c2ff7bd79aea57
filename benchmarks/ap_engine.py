"""Benchmark of the AP engine (``residual_pitfalls.metrics.ap``) against sklearn on Exp 1 cells.

Usage: ``python benchmarks/ap_engine.py [--images N] [--checks K] [--seed S]``

Per (image, sigma) cell of realistic 256x256 maps (centre slices of synthetic brains when
``residual_pitfalls.data.synthetic`` is available, else a smooth brain-like ellipse; a radius-20 disk
at a random brain pixel, intersected with the brain; reconstruction = gaussian_filter(image,
sigma) for sigma in {0.5, 1, 2, 5}) it measures, in one run:

* sklearn ``average_precision_score`` per map (K intensities per cell);
* the general fast path ``average_precision`` per map (the same maps);
* the Exp 1 path ``average_precision_per_intensity`` with the paper's 100 intensities per call
  (including extracting and sorting the cell's scores), per AP;
* ``scipy.ndimage.gaussian_filter`` per (image, sigma), over the paper's whole sigma grid.

Times are medians of repeated calls (the machine is shared). It checks every fast value against
sklearn, also on the untimed hard cases (sigma = 0, where every normal pixel scores exactly 0, and
image and reconstruction rounded to an 8-bit grid, where scores tie in both classes), projects the
full paper grid (320 images x 100 sigmas x 100 intensities) on one core, and prints as its last line
``speedup vs sklearn: <X>x, max abs diff <D> (sigma = 0 and tied scores included)`` for the Exp 1
path; both max differences cover the hard cases.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.metrics import average_precision_score

from residual_pitfalls.metrics.ap import average_precision, average_precision_per_intensity

SIGMAS = (0.5, 1.0, 2.0, 5.0)
INTENSITIES = np.linspace(0.0, 1.0, 100)  # the paper's intensity grid
SIGMA_GRID = np.linspace(0.0, 5.0, 100)  # the paper's sigma grid
PAPER_IMAGES = 320
RADIUS = 20


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _fallback_image(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """``(size, size) float32``: smooth ellipse (~35 % of the image) at ~0.3-0.5, noisy."""
    yy, xx = np.mgrid[:size, :size] / size
    inside = ((yy - 0.5) / 0.37) ** 2 + ((xx - 0.5) / 0.3) ** 2 < 1
    texture = gaussian_filter(rng.normal(size=(size, size)), 8)
    texture = 0.4 + 0.1 * texture / np.abs(texture).max() + 0.02 * rng.normal(size=(size, size))
    return np.clip(np.where(inside, texture, 0.0), 0.0, 1.0).astype(np.float32)


def _images(n: int, seed: int) -> tuple[list[np.ndarray], str]:
    """``n`` healthy ``(256, 256) float32`` slices in [0, 1] and a description of the source."""
    try:
        from residual_pitfalls.data.synthetic import synthetic_volume
    except ImportError:
        rng = np.random.default_rng(seed)
        return [_fallback_image(rng) for _ in range(n)], "smooth brain-like ellipses"
    slices = [
        synthetic_volume(i, seed=seed, size=256, slab=(127, 129))[0][:, :, 128] for i in range(n)
    ]
    return slices, "synthetic_volume centre slices"


def _disk_label(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(H, W) bool``: radius-20 disk at a random brain pixel, intersected with the brain."""
    brain = np.argwhere(image > 0)
    r0, c0 = brain[rng.integers(len(brain))]
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    return ((yy - r0) ** 2 + (xx - c0) ** 2 < RADIUS**2) & (image > 0)


def _max_diffs(
    image: np.ndarray, recon: np.ndarray, label: np.ndarray, checked: np.ndarray
) -> tuple[float, float]:
    """Largest |AP - sklearn| of the Exp 1 path and of the general path over the checked
    intensities of one (image, reconstruction, label) cell."""
    aps = average_precision_per_intensity(np.abs(recon - image)[~label], recon[label], INTENSITIES)
    d_per_intensity = d_general = 0.0
    for k in checked:
        anomalous = image.copy()
        anomalous[label] = np.float32(INTENSITIES[k])
        residual = np.abs(recon - anomalous)
        ref = average_precision_score(label.reshape(-1), residual.reshape(-1))
        d_per_intensity = max(d_per_intensity, abs(aps[k] - ref))
        d_general = max(d_general, abs(average_precision(label, residual) - ref))
    return d_per_intensity, d_general


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=6, help="images (default 6)")
    parser.add_argument(
        "--checks", type=int, default=12, help="intensities per cell checked against sklearn"
    )
    parser.add_argument("--seed", type=int, default=0, help="data and disk-position seed")
    args = parser.parse_args()
    if args.images < 1 or not 1 <= args.checks <= len(INTENSITIES):
        parser.error(f"--images must be >= 1 and --checks in [1, {len(INTENSITIES)}]")

    images, source = _images(args.images, args.seed)
    rng = np.random.default_rng(args.seed)
    labels = [_disk_label(img, rng) for img in images]
    checked = np.linspace(0, len(INTENSITIES) - 1, args.checks).round().astype(int)
    print(f"{args.images} images ({source}), 256x256, disk radius {RADIUS}, sigmas {SIGMAS}")
    print(
        f"foreground {np.mean([np.mean(i > 0) for i in images]):.0%}, "
        f"positives per map {min(m.sum() for m in labels)}-{max(m.sum() for m in labels)}"
    )

    # cold first calls (numba compiles, or loads its on-disk cache)
    img, lab = images[0], labels[0]
    recon = gaussian_filter(img, 1.0)
    start = time.perf_counter()
    average_precision_per_intensity(np.abs(recon - img)[~lab], recon[lab], INTENSITIES)
    average_precision(lab, np.abs(recon - img))
    print(f"first calls (JIT compile or cache load): {time.perf_counter() - start:.2f} s\n")

    rows = []
    diff_per_intensity = diff_general = 0.0
    for sigma in SIGMAS:
        t_sk, t_gen, t_per_intensity, t_call = [], [], [], []
        for img, lab in zip(images, labels, strict=True):
            recon = gaussian_filter(img, sigma)

            def extract(recon=recon, img=img, lab=lab) -> tuple[np.ndarray, np.ndarray]:
                return np.abs(recon - img)[~lab], recon[lab]

            neg_scores, pos_values = extract()

            def per_intensity(n=neg_scores, p=pos_values) -> np.ndarray:
                return average_precision_per_intensity(n, p, INTENSITIES)

            aps = per_intensity()
            call = _median_time(per_intensity, 5)
            t_call.append(call / len(INTENSITIES))
            t_per_intensity.append((_median_time(extract, 5) + call) / len(INTENSITIES))
            for k in checked:
                anomalous = img.copy()
                anomalous[lab] = np.float32(INTENSITIES[k])
                residual = np.abs(recon - anomalous)
                flat_lab, flat_res = lab.reshape(-1), residual.reshape(-1)
                t_sk.append(
                    _median_time(lambda y=flat_lab, s=flat_res: average_precision_score(y, s), 3)
                )
                t_gen.append(_median_time(lambda y=lab, s=residual: average_precision(y, s), 5))
                ref = average_precision_score(flat_lab, flat_res)
                diff_per_intensity = max(diff_per_intensity, abs(aps[k] - ref))
                diff_general = max(diff_general, abs(average_precision(lab, residual) - ref))
        rows.append(
            (f"{sigma:.2f}", *(np.median(t) for t in (t_sk, t_gen, t_per_intensity, t_call)))
        )
    # not timed, but checked: sigma = 0 (every normal pixel scores exactly 0, one big tie) and
    # maps whose image and reconstruction sit on an 8-bit grid (ties among both classes)
    n_hard = 0
    for img, lab in zip(images, labels, strict=True):
        cases = [(img, img)]
        grid_img = np.round(img * 255).astype(np.float32) / 255
        for sigma in (0.0, *SIGMAS):
            recon = np.round(gaussian_filter(grid_img, sigma) * 255).astype(np.float32) / 255
            cases.append((grid_img, recon))
        for image, recon in cases:
            d_per_intensity, d_general = _max_diffs(image, recon, lab, checked)
            diff_per_intensity, diff_general = (
                max(diff_per_intensity, d_per_intensity),
                max(diff_general, d_general),
            )
            n_hard += len(checked)
    rows.append(("mean", *np.mean([r[1:] for r in rows], axis=0)))
    _, sk_ap, gen_ap, per_intensity_ap, _ = rows[-1]

    print(
        f"{'sigma':>6} {'sklearn/map':>12} {'general/map':>12} {'Exp1/AP':>10} "
        f"{'call/AP':>10} {'x gen':>7} {'x Exp1':>7}"
    )
    for name, sk, gen, sw, call in rows:
        print(
            f"{name:>6} {sk * 1e3:>9.2f} ms {gen * 1e6:>9.1f} us {sw * 1e6:>7.2f} us "
            f"{call * 1e6:>7.2f} us {sk / gen:>7.1f} {sk / sw:>7.0f}"
        )
    print(
        "Exp1/AP: per (image, sigma), |recon - image|[~label], recon[label] and one average_precision_per_intensity call "
        "over 100 intensities, / 100; call/AP: that call alone"
    )
    n_checked = len(images) * len(SIGMAS) * len(checked)
    print(
        f"checked {n_checked + n_hard} maps against sklearn: {n_checked} above, {n_hard} with "
        "ties (sigma = 0, and image and reconstruction on an 8-bit grid at sigma 0 and above)\n"
    )

    # full paper grid on one core: one blur per (image, sigma) + 100 APs from one per-intensity call
    t_blur = np.mean(
        [_median_time(lambda s=s: gaussian_filter(images[0], s), 3) for s in SIGMA_GRID]
    )
    n_cells = PAPER_IMAGES * len(SIGMA_GRID)
    n_aps = n_cells * len(INTENSITIES)
    blur_min = n_cells * t_blur / 60
    ap_min = n_aps * per_intensity_ap / 60
    print(f"gaussian_filter per (image, sigma), mean over the sigma grid: {t_blur * 1e3:.2f} ms")
    print(
        f"projected full Exp 1 grid ({PAPER_IMAGES} x {len(SIGMA_GRID)} x {len(INTENSITIES)} = "
        f"{n_aps:,} APs) on 1 core: {blur_min + ap_min:.1f} min "
        f"(blur {blur_min:.1f} min + AP {ap_min:.1f} min); "
        f"sklearn with one blur per map: {n_aps * (sk_ap + t_blur) / 3600:.1f} h"
    )
    print(
        f"general path: speedup vs sklearn: {sk_ap / gen_ap:.1f}x, max abs diff {diff_general:.1e}"
    )
    print(
        f"speedup vs sklearn: {sk_ap / per_intensity_ap:.0f}x, max abs diff {diff_per_intensity:.1e} "
        "(sigma = 0 and tied scores included)"
    )


if __name__ == "__main__":
    main()
