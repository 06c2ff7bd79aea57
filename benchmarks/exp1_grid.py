"""The paper-scale Experiment 1 grid, end to end: 320 test slices at 256^2 x 100 sigmas x 100 intensities.

Runs `residual_pitfalls.experiments.intensity_sigma_grid` (what the workflow's rule runs) with 1 and
with N worker processes, reports wall time and peak memory, and checks random cells against sklearn on
the full anomaly map. The 320 slices are the centre slices of 32 synthetic brains, each used 10 times
with a different anomaly centre (rendering 320 brains would only time the generator).

    python benchmarks/exp1_grid.py --workers 2
"""

import argparse
import resource
import time

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.metrics import average_precision_score

from residual_pitfalls.anomalies import anomaly_centres, disk_anomaly
from residual_pitfalls.experiments import intensity_sigma_grid
from residual_pitfalls.synthetic import synthetic_volume


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--check", type=int, default=30, help="cells checked against sklearn")
    args = parser.parse_args()

    subjects = [
        synthetic_volume(i, seed=0, size=256, slab=(128, 129))[0][:, :, 128] for i in range(32)
    ]
    images = np.stack([subjects[i % 32] for i in range(args.images)])
    centres = anomaly_centres(images, seed=0)
    intensities, sigmas = np.linspace(0, 1, 100), np.linspace(0, 5, 100)

    timings = {}
    for workers in sorted({1, args.workers}):
        if workers == 1 and args.images > 64:
            # one core on a 64-image subset, scaled: the single-core baseline measured in this run
            start = time.perf_counter()
            intensity_sigma_grid(
                images[:64],
                centres[:64],
                radius=20,
                intensities=intensities,
                sigmas=sigmas,
                workers=1,
            )
            timings[1] = (time.perf_counter() - start) * args.images / 64
            continue
        start = time.perf_counter()
        frame = intensity_sigma_grid(
            images, centres, radius=20, intensities=intensities, sigmas=sigmas, workers=workers
        )
        timings[workers] = time.perf_counter() - start

    rng = np.random.default_rng(0)
    worst = 0.0
    for row in frame.iloc[rng.choice(len(frame), args.check, replace=False)].itertuples():
        anomalous, label = disk_anomaly(
            images[row.image], tuple(centres[row.image]), 20, row.intensity
        )
        scores = np.abs(gaussian_filter(images[row.image], row.sigma) - anomalous)
        worst = max(worst, abs(row.ap - average_precision_score(label.ravel(), scores.ravel())))

    peak_gb = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024**2
    )
    print(f"{len(frame):,} APs ({args.images} images x 100 sigmas x 100 intensities)")
    print(f"1 worker (64-image subset, scaled to {args.images}): {timings[1]:.1f} s")
    print(
        f"{args.workers} workers: {timings[args.workers]:.1f} s, peak RSS per process {peak_gb:.2f} GB"
    )
    print(f"max abs diff vs sklearn on {args.check} random cells: {worst:.1e}")
    print(
        f"workers speedup: {timings[1] / timings[args.workers]:.2f}x, full grid {timings[args.workers]:.1f} s"
    )


if __name__ == "__main__":
    main()
