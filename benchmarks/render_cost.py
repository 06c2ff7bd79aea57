"""CPU and wall seconds per synthetic subject, with BLAS limited to one thread (what
``synthetic_volume`` does) against the BLAS's default threads (the baseline, same run).

    python benchmarks/render_cost.py --subjects 8

Prints, per geometry (the default config's 128^2 slab 60-70, paper_synthetic's 256^2 slab 120-140):
``render <size>: <cpu> CPU-s / <wall> s per subject with one BLAS thread, <cpu> / <wall> with the
default threads: <ratio>x less CPU``. The volumes are checked bit-identical.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from residual_pitfalls.data.synthetic import _render_slab, synthetic_volume

GEOMETRIES = {128: (60, 70), 256: (120, 140)}


def one_thread(i: int, size: int, slab: tuple[int, int]) -> np.ndarray:
    return synthetic_volume(i, seed=0, size=size, slab=slab)[0]


def default_threads(i: int, size: int, slab: tuple[int, int]) -> np.ndarray:
    return _render_slab(i, 0, size, *slab)


def timed(render, subjects: range, size: int, slab: tuple[int, int]):
    """(CPU s, wall s) per subject and the volumes of ``render(subject, size, slab)``."""
    cpu, wall = time.process_time(), time.perf_counter()
    volumes = [render(i, size, slab) for i in subjects]
    n = len(subjects)
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n, volumes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=8)
    args = parser.parse_args()
    subjects = range(1, args.subjects + 1)
    for size, slab in GEOMETRIES.items():
        synthetic_volume(0, seed=0, size=size, slab=(slab[0], slab[0] + 1))  # load the template
        one = timed(one_thread, subjects, size, slab)
        with threadpool_limits(limits=None):
            default = timed(default_threads, subjects, size, slab)
        same = all(np.array_equal(a, b) for a, b in zip(one[2], default[2], strict=True))
        print(f"render {size}: {one[0]:.2f} CPU-s / {one[1]:.2f} s per subject with one BLAS thread, "
              f"{default[0]:.2f} / {default[1]:.2f} with the default threads: "
              f"{default[0] / one[0]:.1f}x less CPU; volumes bit-identical: {same}")  # fmt: skip


if __name__ == "__main__":
    main()
