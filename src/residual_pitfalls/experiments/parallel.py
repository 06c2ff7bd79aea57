"""What the experiments share: input checks and an ordered, optionally parallel map with a progress bar."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from tqdm.auto import tqdm


def parallel_map(fn: Callable, args: list[tuple], workers: int, progress: bool, desc: str) -> list:
    """Map fn over args with a process pool (workers > 1) or inline, in order, with a progress bar."""
    bar = tqdm(total=len(args), desc=desc, disable=not progress, unit="image")
    results = []
    if workers <= 1 or len(args) <= 1:
        for a in args:
            results.append(fn(*a))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for r in pool.map(
                fn, *zip(*args, strict=True), chunksize=max(1, len(args) // (8 * workers))
            ):
                results.append(r)
                bar.update()
    bar.close()
    return results


def check_inputs(images: np.ndarray, centres: np.ndarray) -> None:
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got shape {images.shape}")
    if centres.shape != (len(images), 2):
        raise ValueError(f"centres must be (N, 2) = ({len(images)}, 2), got {centres.shape}")
