"""Exp 1 for every built-in scorer: the fast path vs the naive path, timed in one run.

Naive = what a user would write: for every (image, sigma, intensity) cell, paint the disk, score
the full map (``score_maps``) and call ``sklearn.metrics.average_precision_score``. Fast =
``scored_intensity_sigma_grid`` (the plain residual: the existing Exp 1 engine; the others: the
crop fast path). Both compute the same cells; the time per AP is the best of ``--repeats`` runs
of the process's CPU time (single-threaded code; CPU time is robust on a shared machine), after
a warm-up that compiles the numba kernels.

    PYTHONPATH=src python benchmarks/scores.py            # 128^2, radius 10: the default config
    PYTHONPATH=src python benchmarks/scores.py --size 256 --radius 20   # the paper's scale

The last line is ``scores speedup vs naive: <min>x..<max>x, max abs diff <D>``.
"""

import argparse
import time

import numpy as np

from residual_pitfalls.anomalies import anomaly_centres
from residual_pitfalls.data.synthetic import synthetic_volume
from residual_pitfalls.scorers.builtin import SCORES
from residual_pitfalls.scorers.fast_path import scored_intensity_sigma_grid
from residual_pitfalls.scorers.stats import blurred_healthy_stats


def best_time(fn, repeats: int) -> tuple[float, object]:
    """Best CPU time of ``repeats`` calls of ``fn()`` and its (last) result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--radius", type=float, default=10)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--sigmas", type=int, default=5, help="sigmas in linspace(0, 5)")
    parser.add_argument("--intensities", type=int, default=20, help="in linspace(0, 1)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    centre = args.size // 2
    volumes = [
        synthetic_volume(i, seed=0, size=args.size, slab=(centre - 2, centre + 3))[0]
        for i in range(args.images + 4)
    ]
    slices = np.stack([v[:, :, centre] for v in volumes])
    images, train = (
        slices[: args.images],
        np.concatenate(
            [v[:, :, centre - 2 : centre + 3].transpose(2, 0, 1) for v in volumes[args.images :]]
        ),
    )
    centres = anomaly_centres(images, seed=0)
    intensities = np.linspace(0, 1, args.intensities)
    sigmas = np.linspace(0, 5, args.sigmas)
    stats = blurred_healthy_stats(train, sigmas)
    cells = len(images) * len(sigmas) * len(intensities)

    for name in SCORES:  # warm-up: numba compilation, imports
        scored_intensity_sigma_grid(
            images[:1], centres[:1], args.radius, intensities[:2], sigmas[:1], name, stats
        )

    print(
        f"{cells} APs per scorer: {len(images)} images {args.size}^2, radius {args.radius}, "
        f"{len(sigmas)} sigmas x {len(intensities)} intensities"
    )
    print(
        f"{'scorer':18s} {'fast us/AP':>11s} {'naive us/AP':>12s} {'speedup':>8s} {'max |dAP|':>10s}"
    )
    speedups, worst = [], 0.0
    for name in SCORES:
        grid = (images, centres, args.radius, intensities, sigmas, name, stats)
        t_fast, fast = best_time(lambda g=grid: scored_intensity_sigma_grid(*g), args.repeats)
        t_naive, naive = best_time(
            lambda g=grid: scored_intensity_sigma_grid(*g, method="naive"), args.repeats
        )
        diff = float(np.abs(fast["ap"].to_numpy() - naive["ap"].to_numpy()).max())
        worst = max(worst, diff)
        speedups.append(t_naive / t_fast)
        print(
            f"{name:18s} {t_fast / cells * 1e6:11.1f} {t_naive / cells * 1e6:12.1f} "
            f"{t_naive / t_fast:7.0f}x {diff:10.1e}"
        )
    print(
        f"scores speedup vs naive: {min(speedups):.0f}x..{max(speedups):.0f}x, max abs diff {worst:.1e}"
    )


if __name__ == "__main__":
    main()
