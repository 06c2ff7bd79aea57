"""The paper-scale Experiment 1 grid, end to end: 320 test slices at 256^2 x 100 sigmas x 100 intensities.

Runs `residual_pitfalls.experiments.paper.intensity_sigma_grid` (what the workflow's rule runs) on the same
images with 1 and with N worker processes, after a warm-up call that compiles the numba kernels (or
loads their cache); checks that both give identical APs and that random cells equal sklearn on the
full anomaly map; and reports the wall times, their ratio, and the peak memory of each run (PSS
summed over the main process and its workers, sampled as Snakemake's `benchmark:` does; shared pages
counted once), from which the rule's `mem_mb` is sized. The 320 slices are the centre slices of 32
synthetic brains, each used 10 times with a different anomaly centre (rendering 320 brains would only
time the generator); they are rendered in a separate process, so its memory is not measured.

    python benchmarks/exp1_grid.py --workers 2
"""

import argparse
import contextlib
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import psutil
from scipy.ndimage import gaussian_filter
from sklearn.metrics import average_precision_score

from residual_pitfalls.anomalies import anomaly_centres, disk_anomaly
from residual_pitfalls.data.synthetic import synthetic_volume
from residual_pitfalls.experiments.paper import intensity_sigma_grid


def centre_slice(subject: int) -> np.ndarray:
    """(256, 256) float32 centre slice of synthetic brain `subject` (seed 0)."""
    return synthetic_volume(subject, seed=0, size=256, slab=(128, 129))[0][:, :, 128]


class PeakMemory:
    """Peak of the PSS summed over this process and its children, in MB, sampled every 20 ms
    while the `with` block runs (PSS splits shared pages among the processes that map them)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._done = threading.Event()

    def _sample(self) -> None:
        main = psutil.Process()
        while not self._done.wait(0.02):
            total = 0
            for proc in [main, *main.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a worker that just exited
                    total += proc.memory_full_info().pss
            self.peak_mb = max(self.peak_mb, total / 2**20)

    def __enter__(self) -> "PeakMemory":
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--sigmas", type=int, default=100, help="sigma grid size (paper: 100)")
    parser.add_argument("--check", type=int, default=30, help="cells checked against sklearn")
    args = parser.parse_args()
    if args.workers < 1 or args.images < 1 or args.sigmas < 1:
        parser.error("--workers, --images and --sigmas must be >= 1")

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as renderer:
        subjects = list(renderer.map(centre_slice, range(min(32, args.images))))
    images = np.stack([subjects[i % len(subjects)] for i in range(args.images)])
    centres = anomaly_centres(images, seed=0)
    intensities, sigmas = np.linspace(0, 1, 100), np.linspace(0, 5, args.sigmas)

    def grid(workers: int, n: int = args.images):
        return intensity_sigma_grid(
            images[:n],
            centres[:n],
            radius=20,
            intensities=intensities,
            sigmas=sigmas,
            workers=workers,
        )

    start = time.perf_counter()
    grid(1, n=1)  # numba compiles (or loads its on-disk cache) here, outside every timing
    print(f"warm-up (1 image, JIT compile or cache load): {time.perf_counter() - start:.1f} s")

    frames, timings, memory = {}, {}, {}
    for workers in sorted({1, args.workers}):
        with PeakMemory() as peak:
            start = time.perf_counter()
            frames[workers] = grid(workers)
            timings[workers] = time.perf_counter() - start
        memory[workers] = peak.peak_mb
    frame = frames[args.workers]
    if not np.array_equal(frames[1]["ap"].to_numpy(), frame["ap"].to_numpy()):
        raise AssertionError("1 worker and N workers gave different APs")

    rng = np.random.default_rng(0)
    worst = 0.0
    cells = frame.iloc[rng.choice(len(frame), min(args.check, len(frame)), replace=False)]
    for row in cells.itertuples():
        anomalous, label = disk_anomaly(
            images[row.image], tuple(centres[row.image]), 20, row.intensity
        )
        scores = np.abs(gaussian_filter(images[row.image], row.sigma) - anomalous)
        worst = max(worst, abs(row.ap - average_precision_score(label.ravel(), scores.ravel())))

    shape = f"{args.images} images x {args.sigmas} sigmas x 100 intensities"
    print(f"{len(frame):,} APs ({shape}, 256^2), identical with 1 and {args.workers} workers")
    for workers in sorted(timings):
        print(
            f"{workers} worker(s): {timings[workers]:.1f} s, peak memory {memory[workers]:.0f} MB "
            "(PSS, main process + workers)"
        )
    if args.workers > 1:
        extra = (memory[args.workers] - memory[1]) / args.workers
        print(f"memory per worker process: {extra:.0f} MB above the 1-worker run")
    print(f"max abs diff vs sklearn on {len(cells)} random cells: {worst:.1e}")
    print(f"workers speedup: {timings[1] / timings[args.workers]:.2f}x (1 worker = baseline)")


if __name__ == "__main__":
    main()
