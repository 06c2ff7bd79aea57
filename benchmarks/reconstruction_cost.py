"""CPU cost per reconstructed image of the configured models, against AE latent 128 in the same run.

Usage: ``python benchmarks/reconstruction_cost.py [--size 128] [--images 64] [--threads 1]
[--models ae128 dae ddpm]``

The models of config.yaml + config/modern.yaml (freshly initialised: the cost does not depend on
the weights) reconstruct ``--images`` random images through ``models.reconstruct`` in one batch; the
clock is the process's CPU time (robust to other jobs on a shared machine). Exp 3.2 reconstructs
intensities x test images per model (4,000 at the default): multiply to get a model's Exp 3 cost.
Prints one line per model: seconds per image and the ratio to ``ae128``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from residual_pitfalls.cli import merged_config
from residual_pitfalls.models import build_model, reconstruct, sized_hparams

ROOT = Path(__file__).resolve().parents[1]


def seconds_per_image(spec: dict, images: np.ndarray) -> float:
    hparams = sized_hparams(spec["arch"], spec["hparams"], images.shape[1])
    model = build_model(spec["arch"], **hparams)
    reconstruct(model, images[:2], batch_size=len(images))  # warm-up
    start = time.process_time()
    reconstruct(model, images, batch_size=len(images))
    return (time.process_time() - start) / len(images)


def main() -> None:
    models = merged_config(ROOT, [ROOT / "config" / "modern.yaml"])["models"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", nargs="+", choices=list(models), default=["dae", "ddpm"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (args.images, args.size, args.size)).astype(np.float32)
    base = seconds_per_image(models["ae128"], images)
    print(f"ae128  {base:.4f} CPU s per image (baseline)")
    for key in args.models:
        cost = seconds_per_image(models[key], images)
        print(f"{key:6s} {cost:.4f} CPU s per image   {cost / base:.1f}x ae128", flush=True)
    print(f"(cpu, {args.threads} thread(s), {args.size}^2, batch {args.images}, cpu clock)")


if __name__ == "__main__":
    main()
